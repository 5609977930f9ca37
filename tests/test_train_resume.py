"""Killed at any moment with SIGKILL and resumed, a CPU training run ends with the same metrics as an uninterrupted one
(issue 4). Runs the real `scoliosis-xray train` console script in subprocesses."""
import json, os, random, signal, subprocess, sys, time
from pathlib import Path

import pytest
import torch

from scoliosis_xray.synth import make_dataset
from scoliosis_xray.train import load_checkpoint, read_scalars

EXE = Path(sys.executable).parent / 'scoliosis-xray'

def _args(data, cache):
    return ['train', '--data', data, '--epochs', '4', '--head-epochs', '1', '--image-size', '96x48', '--batch-size', '8',
            '--backbone', 'resnet18', '--weights', 'none', '--seed', '7', '--num-workers', '0', '--val', '0.25', '--test', '0.2',
            '--cache', cache, '--no-adapt', '--quiet']   # --no-adapt: a head-only stage, so a resume crosses the stage switch

def _env():
    return dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')   # the same thread count in every process

def _comparable(run):
    m = json.loads((Path(run) / 'metrics.json').read_text())
    keep = ('epoch', 'stage', 'train_loss', 'train_roc_auc', 'val_loss', 'val_roc_auc', 'val_accuracy', 'val_sensitivity', 'val_specificity', 'threshold', 'lr')
    return [{k: h[k] for k in keep} for h in m['history']], m['best'], m['threshold']

@pytest.fixture(scope='module')
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp('resume')
    make_dataset(d / 'data', n=40, seed=2, height=384, progress=False)
    return d

def test_sigkill_and_resume_match_uninterrupted(data):
    a, b = data / 'a', data / 'b'
    r = subprocess.run([str(EXE), *map(str, _args(data / 'data', data / 'cache')), '--out', str(a)], capture_output=True, text=True, env=_env(), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    t_total = sum(h['seconds'] for h in json.loads((a / 'metrics.json').read_text())['history'])
    rng = random.Random(1234)
    cmd = [str(EXE), *map(str, _args(data / 'data', data / 'cache')), '--out', str(b)]
    kills = 0
    # kill at random moments: before any checkpoint, mid-epoch, around checkpoint writes; resume each time
    for delay in [rng.uniform(0.5, 3.0), rng.uniform(0.2, 1.0) * t_total / 4, rng.uniform(0.0, 0.3) * t_total / 4, rng.uniform(0.4, 0.9) * t_total / 4]:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_env())
        time.sleep(delay)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL); p.wait(); kills += 1
        else:
            assert p.returncode == 0, p.stderr.read()[-3000:]
        cmd = [str(EXE), 'train', '--resume', str(b), '--quiet']
        if (b / 'metrics.json').exists() and json.loads((b / 'metrics.json').read_text()).get('complete'): break
        if not (b / 'config.json').exists():   # killed before the run folder was written: start again
            cmd = [str(EXE), *map(str, _args(data / 'data', data / 'cache')), '--out', str(b)]
    # and once more right after a checkpoint lands (the moment TensorBoard, metrics.json and last.pt must agree)
    if not ((b / 'metrics.json').exists() and json.loads((b / 'metrics.json').read_text()).get('complete')):
        last = b / 'checkpoints' / 'last.pt'
        before = last.stat().st_mtime_ns if last.exists() else 0
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_env())
        t_end = time.time() + 300
        while p.poll() is None and time.time() < t_end and (not last.exists() or last.stat().st_mtime_ns == before): time.sleep(0.01)
        if p.poll() is None: p.send_signal(signal.SIGKILL); p.wait(); kills += 1
        cmd = [str(EXE), 'train', '--resume', str(b), '--quiet']
    assert kills >= 2, 'the test did not interrupt the run'
    r = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    ha, hb = _comparable(a), _comparable(b)
    assert ha == hb
    assert [h['stage'] for h in ha[0]] == [1, 2, 2, 2]                       # the kills fell on both sides of the stage switch
    assert json.loads((b / 'config.json').read_text())['resumed'], 'config.json does not record the resumes'
    ma, mb = load_checkpoint(a / 'checkpoints' / 'best.pt')['model'], load_checkpoint(b / 'checkpoints' / 'best.pt')['model']
    assert all(torch.equal(ma[k], mb[k]) for k in ma)
    steps = [s for s, _ in read_scalars(b / 'tb')['loss/val']]
    assert steps == sorted(set(steps)) == [1, 2, 3, 4]          # TensorBoard holds each epoch once despite the kills
    for p in (b / 'checkpoints').iterdir(): assert not p.name.endswith('.tmp')

def test_corrupt_and_foreign_checkpoints_give_clear_errors(data, tmp_path):
    run = tmp_path / 'run'; (run / 'checkpoints').mkdir(parents=True)
    (run / 'config.json').write_text(json.dumps({'train': {'data': str(data / 'data'), 'out': str(run)}}))
    (run / 'checkpoints' / 'last.pt').write_bytes(b'PK\x03\x04 not really a checkpoint')
    r = subprocess.run([str(EXE), 'train', '--resume', str(run)], capture_output=True, text=True, env=_env())
    assert r.returncode == 2 and 'corrupt' in r.stderr and 'Traceback' not in r.stderr
    torch.save({'state_dict': {}}, run / 'checkpoints' / 'last.pt')
    r = subprocess.run([str(EXE), 'train', '--resume', str(run)], capture_output=True, text=True, env=_env())
    assert r.returncode == 2 and 'not a scoliosis-xray checkpoint' in r.stderr
    r = subprocess.run([str(EXE), 'train', '--resume', str(tmp_path / 'nothing')], capture_output=True, text=True, env=_env())
    assert r.returncode == 2 and 'not a training run' in r.stderr
