"""Issue 14 item 3: `scoliosis-xray export` and `predict --model`, through the console script as a user runs them, on a
tiny seeded run (ResNet18 from random initialisation, fp32). Mistakes end in one line naming the file and the fix."""
import contextlib, io, os, subprocess, sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scoliosis_xray.synth import make_dataset
from scoliosis_xray.export import PARITY_TOL
from sxcli import cli, one_line_error

EXE = Path(sys.executable).parent / 'scoliosis-xray'
TINY = ['--image-size', '64x32', '--batch-size', '8', '--backbone', 'resnet18', '--weights', 'none', '--val', '0.25',
        '--test', '0.3', '--num-workers', '0', '--amp', 'off', '--seed', '0', '--quiet']

def sx(*args, **kw):
    return subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True, **kw)

@pytest.fixture(scope='module')
def base(tmp_path_factory):
    "A small dataset and a one-epoch run on it."
    d = tmp_path_factory.mktemp('export')
    make_dataset(d / 'data', n=32, seed=4, height=256, progress=False)
    r = sx('train', '--data', d / 'data', '--out', d / 'run', '--epochs', 1, '--head-epochs', 1, '--cache', d / 'cache', *TINY)
    assert r.returncode == 0, r.stderr[-3000:]
    return d

def test_help():
    r = sx('export', '--help')
    assert r.returncode == 0 and '--checkpoint' in r.stdout and '--format' in r.stdout and 'torchscript' in r.stdout
    r = sx('predict', '--help')
    assert r.returncode == 0 and '--model' in r.stdout and 'onnxruntime' in r.stdout

def test_export_then_predict_with_the_model(base, tmp_path):
    "ONNX and TorchScript exports give predict's table with the checkpoint's probabilities (within 1e-4)."
    ck = base / 'run' / 'checkpoints' / 'best.pt'
    r = sx('export', '--checkpoint', ck, '--format', 'onnx', '--out', tmp_path / 'model.onnx')
    assert r.returncode == 0 and 'onnx:' in r.stdout and 'sha256' in r.stdout, r.stderr[-2000:]
    r = sx('export', '--checkpoint', ck, '--out', tmp_path / 'model.pt')          # the format from the suffix
    assert r.returncode == 0 and r.stdout.startswith('torchscript:'), r.stderr[-2000:]
    films = base / 'data'
    eager = sx('predict', '--checkpoint', ck, films, '--include-out-of-scope', '--quiet')
    assert eager.returncode == 0, eager.stderr[-2000:]
    want = pd.read_csv(io.StringIO(eager.stdout), keep_default_na=False)
    assert len(want) == 32
    for f in ('model.onnx', 'model.pt'):
        r = sx('predict', '--model', tmp_path / f, films, '--include-out-of-scope', '--quiet', '--out', tmp_path / f'{f}.csv')
        assert r.returncode == 0, r.stderr[-2000:]
        got = pd.read_csv(tmp_path / f'{f}.csv', keep_default_na=False)
        assert list(got.columns) == list(want.columns) and list(got.path) == list(want.path)
        on = (want.prob_scoliosis - want.threshold).abs() <= PARITY_TOL     # a film on the threshold may fall on either side
        assert list(got.label[~on]) == list(want.label[~on]) and list(got.threshold) == list(want.threshold)
        assert np.abs(got.prob_scoliosis - want.prob_scoliosis).max() <= PARITY_TOL
        assert np.allclose(got.ood_score, want.ood_score, rtol=1e-4)

def test_export_refuses_mistakes(base, tmp_path):
    ck = base / 'run' / 'checkpoints' / 'best.pt'
    before = ck.read_bytes()
    r = cli('export', '--checkpoint', ck, '--format', 'tflite', '--out', tmp_path / 'm.tflite')
    assert r.returncode == 2 and "invalid choice: 'tflite'" in r.stderr and 'Traceback' not in r.stderr
    one_line_error(cli('export', '--checkpoint', ck, '--format', 'onnx', '--out', tmp_path / 'm.pt'), 'export', 'onnx exports are named *.onnx')
    one_line_error(cli('export', '--checkpoint', tmp_path / 'nothing.pt', '--format', 'onnx', '--out', tmp_path / 'm.onnx'),
                   'export', 'nothing.pt: no such checkpoint file')
    (tmp_path / 'notes.txt').write_text('not a checkpoint')
    one_line_error(cli('export', '--checkpoint', tmp_path / 'notes.txt', '--out', tmp_path / 'm.onnx'), 'export', 'RUN/checkpoints/best.pt')
    one_line_error(cli('export', '--checkpoint', ck, '--format', 'torchscript', '--out', ck), 'export', "best.pt is one of this command's inputs")
    one_line_error(cli('export', '--checkpoint', ck, '--out', base / 'run' / 'checkpoints' / 'last.pt'), 'export', 'an export never replaces one')
    one_line_error(cli('export', '--checkpoint', ck, '--out', base / 'run'), 'export', 'is a folder; give a file name')
    assert ck.read_bytes() == before and not (tmp_path / 'm.onnx').exists()

def test_same_out_twice(base, tmp_path):
    "The second export replaces the package's own first one; once the user has changed that file, it is theirs: refused."
    ck, out = base / 'run' / 'checkpoints' / 'best.pt', tmp_path / 'model.onnx'
    for _ in range(2):
        r = cli('export', '--checkpoint', ck, '--format', 'onnx', '--out', out)
        assert r.returncode == 0, r.stderr[-2000:]
    out.write_bytes(out.read_bytes() + b'\0')
    one_line_error(cli('export', '--checkpoint', ck, '--format', 'onnx', '--out', out), 'export', 'pass --overwrite to replace it')
    r = cli('export', '--checkpoint', ck, '--format', 'onnx', '--out', out, '--overwrite')
    assert r.returncode == 0, r.stderr[-2000:]

def test_predict_model_must_be_an_export(base, tmp_path):
    ck = base / 'run' / 'checkpoints' / 'best.pt'
    films = base / 'data' / 'Normal'
    one_line_error(cli('predict', '--model', ck, films, '--quiet'), 'predict', 'not an exported model')
    r = cli('export', '--checkpoint', ck, '--out', tmp_path / 'model.pt')
    assert r.returncode == 0, r.stderr[-2000:]
    one_line_error(cli('predict', '--checkpoint', tmp_path / 'model.pt', films, '--quiet'), 'predict', 'pass it with --model')
    one_line_error(cli('predict', '--model', tmp_path / 'model.pt', films, '--cam', tmp_path / 'cams', '--quiet'), 'predict', 'Grad-CAM needs the checkpoint')
    (tmp_path / 'fake.onnx').write_bytes(b'\x08\x07garbage')
    one_line_error(cli('predict', '--model', tmp_path / 'fake.onnx', films, '--quiet'), 'predict', 'fake.onnx: not an ONNX model')
    r = cli('predict', '--model', tmp_path / 'model.pt', '--checkpoint', ck, films)
    assert r.returncode == 2 and 'not allowed with argument' in r.stderr

def test_onnxruntime_missing(base, tmp_path):
    "Without onnxruntime, export and predict --model say which extra to install."
    ck = base / 'run' / 'checkpoints' / 'best.pt'
    code = "import sys; sys.modules['onnxruntime'] = None; from scoliosis_xray.cli import main; sys.exit(main(sys.argv[1:]))"
    r = subprocess.run([sys.executable, '-c', code, 'export', '--checkpoint', str(ck), '--format', 'onnx', '--out', str(tmp_path / 'm.onnx')],
                       capture_output=True, text=True)
    one_line_error(r, 'export', "pip install 'scoliosis-xray[export]'")
    (tmp_path / 'm.onnx').write_bytes(b'')
    r = subprocess.run([sys.executable, '-c', code, 'predict', '--model', str(tmp_path / 'm.onnx'), str(base / 'data' / 'Normal'), '--quiet'],
                       capture_output=True, text=True)
    one_line_error(r, 'predict', "pip install 'scoliosis-xray[export]'")
