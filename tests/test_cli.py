"""The installed `scoliosis-xray` console script, as a user runs it (subprocesses, no in-process shortcuts)."""
import hashlib, json, os, subprocess, sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scoliosis_xray.synth import measure_cobb, read_landmarks, label_of, severity

EXE = Path(sys.executable).parent / 'scoliosis-xray'

def sx(*args, **kw):
    return subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True, **kw)

def test_version_and_help():
    r = sx('--version'); assert r.returncode == 0 and r.stdout.startswith('scoliosis-xray ')
    r = sx('--help'); assert r.returncode == 0 and 'synth' in r.stdout
    r = sx('synth', '--help'); assert r.returncode == 0 and '--seed' in r.stdout and '--out' in r.stdout

def _tree(d):
    "Every file under `d` with its hash (the hidden ledger of what the package wrote holds times, so it is left out)."
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(d).rglob('*')) if p.is_file() and not p.name.startswith('.')}

def test_synth_200_consistent_and_reproducible(tmp_path):
    "Issue 2's done-when: 200 images, labels consistent with the Cobb angles and the landmarks, identical bytes twice."
    a, b = tmp_path / 'a', tmp_path / 'b'
    for d in (a, b):
        r = sx('synth', '--out', d, '--n', 200, '--seed', 3, '--quiet')
        assert r.returncode == 0, r.stderr
    assert '200 radiographs' in r.stdout
    df = pd.read_csv(a / 'labels.csv', keep_default_na=False)
    assert len(df) == 200 and len(list(a.glob('*/*.png'))) == 200
    assert (df.label == 'Scoliosis').sum() == 100
    lms = read_landmarks(a)
    for r_ in df.itertuples():
        assert r_.label == label_of(r_.cobb_angle) and r_.severity == severity(r_.cobb_angle)
        assert abs(measure_cobb(lms[r_.file])[0] - r_.cobb_angle) < 1e-3
        assert (a / r_.file).is_file() and r_.file.split('/')[0] == r_.label
    assert _tree(a) == _tree(b)

def test_synth_bad_arguments(tmp_path):
    r = sx('synth', '--out', tmp_path / 'x', '--n', 0)
    assert r.returncode == 2 and 'n must be at least 1' in r.stderr and 'Traceback' not in r.stderr
    r = sx('synth', '--out', tmp_path / 'y', '--bit-depth', 12)
    assert r.returncode == 2 and 'invalid choice' in r.stderr

def test_startup_is_light():
    "Building the parser for --version or audit imports neither torch, pandas nor the trainer; only the subcommand asked for is built."
    code = ("import sys; from scoliosis_xray import cli; cli.build_parser(['--version']); cli.build_parser(['audit', 'x']); "
            "print('torch' in sys.modules, 'pandas' in sys.modules, 'scoliosis_xray.train' in sys.modules)")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.split() == ['False', 'False', 'False'], (r.stdout, r.stderr)

# Each differs from TrainConfig's default (checked below), so a setting that does not reach the folds fails the test.
CV_SETTINGS = dict(amp='off', patience=3, augment=0.3, lr_decay=0.7, dropout=0.1, weight_decay=0.001, warmup=0.05,
                   threshold='sensitivity:0.9', lr=0.002, seed=3, device='cpu', backbone='resnet18', weights='none', epochs=1,
                   head_epochs=0, max_batches=1, batch_size=4, num_workers=0)

def test_cv_folds_train_with_the_settings_given(tmp_path):
    """A real, tiny cross-validation through the console script (3 folds of 16 synthetic images, one batch per fold,
    15 to 30 s): every fold's config.json holds each training setting given on the command line."""
    from scoliosis_xray.train import TrainConfig
    want = dict(CV_SETTINGS, image_size=[64, 32], adapt_random_init=False, data=str(tmp_path / 'data'), cache=str(tmp_path / 'cache'))
    assert [k for k, v in want.items() if getattr(TrainConfig(), k) == (tuple(v) if isinstance(v, list) else v)] == []
    r = sx('synth', '--out', tmp_path / 'data', '--n', 16, '--height', 256, '--quiet'); assert r.returncode == 0, r.stderr
    cv = tmp_path / 'cv'
    words = [w for k, v in CV_SETTINGS.items() for w in ('--' + k.replace('_', '-'), v)]
    r = sx('cv', '--data', tmp_path / 'data', '--out', cv, '--folds', 3, '--n-boot', 50, '--cache', tmp_path / 'cache',
           '--image-size', '64x32', '--no-adapt', '--quiet', *words, env=dict(os.environ, OMP_NUM_THREADS='1'), timeout=600)
    assert r.returncode == 0, r.stderr
    assert 'ROC-AUC' in r.stdout and (cv / 'cv.json').is_file() and (cv / 'report.html').is_file()
    for i in range(3):
        c = json.loads((cv / f'fold{i}' / 'config.json').read_text())['train']
        assert {k: c[k] for k in want} == want, i
        assert c['out'] == str(cv / f'fold{i}') and c['splits'] == str(cv / f'fold{i}-splits.csv')
