"""The installed `scoliosis-xray` console script, as a user runs it (subprocesses, no in-process shortcuts)."""
import hashlib, subprocess, sys
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
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(d).rglob('*')) if p.is_file()}

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
    "Building the parser for --version or audit imports neither torch nor pandas; only the subcommand asked for is built."
    code = ("import sys; from scoliosis_xray import cli; cli.build_parser(['--version']); cli.build_parser(['audit', 'x']); "
            "print('torch' in sys.modules, 'pandas' in sys.modules)")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.split() == ['False', 'False'], (r.stdout, r.stderr)
