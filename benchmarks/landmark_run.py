"""Shared by the landmark benchmarks (`bench_cobb_robust.py`, `bench_cobb_readings.py`): a landmark run's model and the
films of its data with their split, read the way `cobb evaluate` reads them (the run's splits.csv through
`data.load_splits`, which also finds a run folder that was moved)."""
from pathlib import Path
import torch

from scoliosis_xray.cobb_train import load_landmark_model, landmark_table, listed_in
from scoliosis_xray.data import load_splits

def open_run(run, data, device='cpu'):
    "(model, checkpoint, films): the best model of landmark run `run` and the films of the AASCE-layout folder `data` with their `split`."
    run = Path(run)
    model, ck = load_landmark_model(run / 'checkpoints' / 'best.pt', torch.device(device))
    splits = run / 'splits.csv'
    return model, ck, load_splits(splits, listed_in(landmark_table(data), splits))
