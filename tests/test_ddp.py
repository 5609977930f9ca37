"""Distributed training (issue 14): `torchrun --nproc-per-node 2 -m scoliosis_xray train ...` on the CPU (gloo) gives
one run folder written by rank 0 alone, one set of TensorBoard event files, and the metrics of a one-process run with
the same global batch; a distributed run stopped after an epoch resumes under torchrun to the same end.

Tolerance: 1e-5 on every compared number (losses, ROC-AUC, threshold); measured on this machine (2026-12-03): at most
8e-7 (the validation threshold and loss; ROC-AUC equal). The runs train without augmentation and dropout (`--augment 0
--dropout 0`) in fp32 (`--amp off`): those draw random numbers per rank, so with them a distributed run is an equally
good run, not the same one; everything else (batches, batch-norm statistics, gradients, validation) is the same."""
import json, os, subprocess, sys
from pathlib import Path

import pytest

from scoliosis_xray.synth import make_dataset

TOL = 1e-5
KEYS = ('train_loss', 'train_roc_auc', 'val_loss', 'val_roc_auc', 'threshold')

def _args(d):
    return ['train', '--data', d / 'data', '--epochs', '3', '--head-epochs', '1', '--no-adapt', '--image-size', '96x48',
            '--batch-size', '8', '--backbone', 'resnet18', '--weights', 'none', '--num-workers', '0', '--val', '0.25',
            '--test', '0.25', '--cache', d / 'cache', '--seed', '0', '--amp', 'off', '--augment', '0', '--dropout', '0', '--quiet']

def _env():
    return dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')

def _run(cmd, timeout=300):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=_env(), timeout=timeout)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return r

def _torchrun(*args):
    return [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc-per-node', '2', *args]

def _history(run): return json.loads((Path(run) / 'metrics.json').read_text())['history']

def _same(a, b):
    assert [h['epoch'] for h in a] == [h['epoch'] for h in b]
    for ha, hb in zip(a, b):
        for k in KEYS: assert abs(ha[k] - hb[k]) <= TOL, (ha['epoch'], k, ha[k], hb[k])

def _files(run): return sorted(str(p.relative_to(run)) for p in Path(run).rglob('*') if p.is_file() and p.name != '.lock')

@pytest.fixture(scope='module')
def one(tmp_path_factory):
    "Tiny data and the one-process reference run."
    d = tmp_path_factory.mktemp('ddp')
    make_dataset(d / 'data', n=48, seed=1, height=512, progress=False)
    _run([sys.executable, '-m', 'scoliosis_xray', *_args(d), '--out', d / 'one'])
    return d

STOP = """import sys
from scoliosis_xray.cli import main
import scoliosis_xray.train as t
def stop(rec):
    if rec['epoch'] == 2 and t.is_main(): raise SystemExit(3)   # killed after epoch 2 is saved; torchrun stops rank 1
real = t.train
t.train = lambda *a, **kw: real(*a, **dict(kw, on_epoch_end=stop))
sys.exit(main())
"""

def test_two_processes_match_one_and_resume(one):
    d = one
    script = d / 'stop_after_two.py'; script.write_text(STOP)
    r = subprocess.run([str(c) for c in _torchrun(script, *_args(d), '--out', d / 'two')], capture_output=True, text=True, env=_env(), timeout=300)
    assert r.returncode != 0 and (d / 'two' / 'checkpoints' / 'last.pt').exists(), r.stderr[-3000:]
    want = _history(d / 'one')
    _same(_history(d / 'two'), want[:2])                              # 2 processes, 4 images each a step = 1 process, 8
    events = [f for f in _files(d / 'two') if 'tfevents' in f]
    assert len(events) == 1 and events[0].startswith('tb/train/'), events    # rank 1 wrote no TensorBoard file
    assert not list(d.glob('two*/**/*.tmp'))
    out = _run(_torchrun('-m', 'scoliosis_xray', 'train', '--resume', d / 'two', '--quiet')).stdout
    assert out.count('best epoch') == 1, out                           # rank 0 alone reports
    _same(_history(d / 'two'), want)
    one_files = [f for f in _files(d / 'one')]
    assert [f for f in _files(d / 'two') if 'tfevents' not in f] == [f for f in one_files if 'tfevents' not in f]
    assert sum('tfevents' in f for f in _files(d / 'two')) == sum('tfevents' in f for f in one_files) + 1   # + the resume's own, as in one process
    assert json.loads((d / 'two' / 'config.json').read_text())['resumed'][0]['epoch'] == 2

def test_batch_not_divisible_is_refused(one):
    args = [a if a != '8' else '7' for a in map(str, _args(one))]
    r = subprocess.run(_torchrun('-m', 'scoliosis_xray', *args, '--out', str(one / 'odd')), capture_output=True, text=True, env=_env(), timeout=300)
    assert r.returncode != 0 and 'must be divisible by the number of processes (2)' in r.stderr, r.stderr[-2000:]
    assert not (one / 'odd').exists()
