"""`scoliosis-xray cobb`: the landmark run survives SIGKILL with the metrics of an uninterrupted run, and the commands
behave as a careless user would need them to (issue 12). Runs the real console script in subprocesses."""
import json, os, random, signal, subprocess, sys, time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from scoliosis_xray.landmarks import write_aasce
from sxcli import cli
from scoliosis_xray.train import read_scalars

EXE = Path(sys.executable).parent / 'scoliosis-xray'

def _env(): return dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')

def _sx(*args, timeout=900):
    return subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True, env=_env(), timeout=timeout)

def _train_args(d, out, epochs=3):          # no vertebra refiner: the refiner's own tests add one (`cobb refine`)
    return ['cobb', 'train', '--data', d / 'aasce', '--out', out, '--epochs', epochs, '--image-size', '128x64', '--batch-size', '4',
            '--weights', 'none', '--seed', '3', '--num-workers', '0', '--cache', d / 'cache', '--quiet', '--refine-epochs', '0']

@pytest.fixture(scope='module')
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp('cobb')
    write_aasce(d / 'aasce', n=20, seed=5, height=256)
    return d

@pytest.fixture(scope='module')
def run(data):
    r = _sx(*_train_args(data, data / 'run', epochs=1))
    assert r.returncode == 0, r.stderr[-3000:]
    return data / 'run'

def _comparable(run):
    m = json.loads((Path(run) / 'metrics.json').read_text())
    keep = ('epoch', 'train_loss', 'val_loss', 'val_score', 'val_ok_share', 'lr')
    return [{k: h.get(k) for k in keep} for h in m['history']], m['best_epoch']

def test_sigkill_and_resume_match_uninterrupted(data):
    a, b = data / 'a', data / 'b'
    r = _sx(*_train_args(data, a))
    assert r.returncode == 0, r.stderr[-3000:]
    t_total = sum(h['seconds'] for h in json.loads((a / 'metrics.json').read_text())['history'])
    kills, cmd = 0, [str(EXE), *map(str, _train_args(data, b))]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_env())
    time.sleep(random.Random(7).uniform(0.2, 0.5) * t_total)        # somewhere in the first epochs
    if p.poll() is None: p.send_signal(signal.SIGKILL); p.wait(); kills += 1
    if (b / 'config.json').exists(): cmd = [str(EXE), 'cobb', 'train', '--resume', str(b), '--quiet']
    last = b / 'checkpoints' / 'last.pt'
    before = last.stat().st_mtime_ns if last.exists() else 0
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=_env())
    t_end = time.time() + 600
    while p.poll() is None and time.time() < t_end and (not last.exists() or last.stat().st_mtime_ns == before): time.sleep(0.01)
    if p.poll() is None: p.send_signal(signal.SIGKILL); p.wait(); kills += 1    # right after a checkpoint landed
    assert kills >= 1 and last.exists(), 'the test did not interrupt the run'
    r = _sx('cobb', 'train', '--resume', b, '--quiet')
    assert r.returncode == 0, r.stderr[-3000:]
    assert _comparable(a) == _comparable(b)
    steps = [s for s, _ in read_scalars(b / 'tb' / 'train')['loss/val']]
    assert steps == [1, 2, 3]                                  # each epoch once in TensorBoard despite the kills
    assert json.loads((b / 'config.json').read_text())['resumed']

def test_help_on_every_cobb_command():
    for words in (['cobb', '--help'], ['cobb', 'train', '--help'], ['cobb', 'refine', '--help'], ['cobb', 'evaluate', '--help'], ['cobb', 'predict', '--help']):
        r = cli(*words)
        assert r.returncode == 0 and 'usage' in r.stdout, words
    r = cli('cobb', 'train', '--help')
    for opt in ('--image-size', '--min-score', '--backbone', '--resume', '--overwrite', '--refine-epochs'): assert opt in r.stdout

def test_predict_reports_bad_files_and_flags(run, data, tmp_path):
    films = tmp_path / 'films'; films.mkdir()
    for f in sorted((data / 'aasce' / 'data' / 'test').glob('*.jpg'))[:2]: (films / f.name).write_bytes(f.read_bytes())
    (films / 'truncated.jpg').write_bytes((data / 'aasce' / 'data' / 'test').glob('*.jpg').__next__().read_bytes()[:300])
    Image.fromarray(np.full((40, 400), 128, np.uint8)).save(films / 'wide-grey.png')
    ck = run / 'checkpoints' / 'best.pt'
    r = _sx('cobb', 'predict', films, '--checkpoint', ck, '--out', tmp_path / 'cobb.csv', '--overlay', tmp_path / 'ov', '--quiet', '--readings', '2')
    assert r.returncode == 1 and 'truncated.jpg' in r.stderr and 'Traceback' not in r.stderr
    df = pd.read_csv(tmp_path / 'cobb.csv', keep_default_na=False)
    assert len(df) == 4 and (df.error != '').sum() == 1
    assert df.readings_used.astype(int).max() <= 2                # each film read twice: as it is and mirrored
    grey = df[df.path.str.endswith('wide-grey.png')].iloc[0]
    assert grey.verdict == 'flagged' and 'of 17 vertebrae found' in grey.reasons   # flagged with its reasons (its angle, if any, a best effort)
    assert not list(tmp_path.glob('*.partial.csv'))                                 # the rows written as they went, then the table
    assert len(list((tmp_path / 'ov').glob('*.png'))) == 3
    # careless: the table over an input, the overlays into the input folder, a classification command on this checkpoint
    r = cli('cobb', 'predict', films, '--checkpoint', ck, '--out', films / 'wide-grey.png')
    assert r.returncode == 2 and '.csv' in r.stderr and 'Traceback' not in r.stderr
    r = cli('cobb', 'predict', films, '--checkpoint', ck, '--overlay', films, '--out', tmp_path / 'x.csv')
    assert r.returncode == 2 and 'input' in r.stderr
    r = cli('cobb', 'predict', films, '--checkpoint', tmp_path / 'cobb.csv')
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    r = cli('cobb', 'predict', films, '--checkpoint', ck, '--batch-size', '0')
    assert r.returncode == 2 and 'batch-size' in r.stderr
    for n in ('0', '9'):
        r = cli('cobb', 'predict', films, '--checkpoint', ck, '--readings', n, '--out', tmp_path / 'y.csv')
        assert r.returncode == 2 and '--readings must be 1 to 8' in r.stderr and not (tmp_path / 'y.csv').exists()

def test_resume_refuses_options_and_classification_commands_refuse_a_landmark_run(run, data):
    r = cli('cobb', 'train', '--resume', run, '--epochs', '5')
    assert r.returncode == 2 and '--epochs' in r.stderr
    r = cli('train', '--resume', run)
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    r = cli('cobb', 'train', '--resume', data / 'aasce')
    assert r.returncode == 2 and 'not a training run' in r.stderr
    r = cli(*_train_args(data, run, epochs=1))
    assert r.returncode == 2 and 'already holds this run' in r.stderr

def test_evaluate_prints_agreement_and_writes_report(run):
    r = _sx('cobb', 'evaluate', '--run', run, '--n-boot', '50', '--quiet', '--readings', '4')
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'films;' in r.stdout and 'report:' in r.stdout
    out = run / 'eval-cobb-test'
    for f in ('metrics.json', 'report.md', 'measurements.csv'): assert (out / f).exists()
    assert json.loads((out / 'metrics.json').read_text())['facts']['readings'] == 4
    assert pd.read_csv(out / 'measurements.csv').readings_used.max() <= 4
    r = cli('cobb', 'evaluate', '--run', run, '--n-boot', '0')
    assert r.returncode == 2 and 'n-boot' in r.stderr
    r = cli('cobb', 'evaluate', '--run', run, '--readings', '-1')
    assert r.returncode == 2 and '--readings must be 1 to 8' in r.stderr

def test_audit_reports_bad_annotations(data, tmp_path):
    import shutil
    d = tmp_path / 'aasce'; shutil.copytree(data / 'aasce', d)
    lm = d / 'labels' / 'training' / 'landmarks.csv'
    rows = lm.read_text().splitlines()
    cells = rows[1].split(','); cells[5] = 'nan'; rows[1] = ','.join(cells)           # one film's point lost
    lm.write_text('\n'.join(rows) + '\n')
    names = (d / 'labels' / 'training' / 'filenames.csv').read_text().splitlines()
    r = _sx('cobb', 'audit', d, '--json', tmp_path / 'audit.json')
    assert r.returncode == 0, r.stderr[-3000:]
    rep = json.loads((tmp_path / 'audit.json').read_text())
    assert any(names[1].split(',')[0].strip() in json.dumps(p) for p in rep.get('problems', rep.get('skipped', []))) or names[1] in r.stdout, r.stdout
    r = _sx('cobb', 'audit', d, '--json', lm)                    # never over the data
    assert r.returncode == 2 and 'Traceback' not in r.stderr

def test_compare_with_classifier_leaves_out_what_the_landmark_run_saw(tmp_path):
    from scoliosis_xray.synth import make_dataset
    make_dataset(tmp_path / 'data', n=40, seed=4, height=256, progress=False)
    r = _sx('train', '--data', tmp_path / 'data', '--out', tmp_path / 'cls', '--epochs', '1', '--head-epochs', '0', '--image-size', '96x48',
            '--batch-size', '8', '--backbone', 'resnet18', '--weights', 'none', '--cache', tmp_path / 'cache', '--quiet')
    assert r.returncode == 0, r.stderr[-3000:]
    r = _sx('cobb', 'train', '--data', tmp_path / 'data', '--out', tmp_path / 'cobb', '--epochs', '1', '--image-size', '128x64', '--refine-epochs', '0',
            '--batch-size', '4', '--weights', 'none', '--seed', '9', '--cache', tmp_path / 'cache', '--quiet')
    assert r.returncode == 0, r.stderr[-3000:]
    r = _sx('cobb', 'evaluate', '--run', tmp_path / 'cobb', '--compare', tmp_path / 'cls', '--n-boot', '50', '--quiet')
    assert r.returncode == 0, r.stderr[-3000:]
    c = json.loads((tmp_path / 'cobb' / 'eval-cobb-test' / 'vs_classifier.json').read_text())
    sp = pd.read_csv(tmp_path / 'cls' / 'splits.csv')
    assert c['n'] + c['left_out_seen'] + c['unmeasured'] == (sp.split == 'test').sum()
    cobb_seen = set(pd.read_csv(tmp_path / 'cobb' / 'splits.csv').query("split in ['train', 'val']").sha256)
    assert c['left_out_seen'] >= len(cobb_seen & set(sp[sp.split == 'test'].sha256))    # every test film the landmark run trained on is out
    g = c["geometry_hidden"]                                             # both scores again on films cut to one shape
    assert g["measurement"]["n"] + g["measurement"]["unmeasured"] == c["n"] and 0 <= g["classifier"]["roc_auc_hidden"]["value"] <= 1, g
    assert "with geometry hidden" in r.stdout, r.stdout

def test_refine_trains_a_runs_refiner_and_refuses_what_it_cannot(run, data, tmp_path):
    assert 'refine' not in json.loads((run / 'metrics.json').read_text())         # trained with --refine-epochs 0: a run without one
    r = _sx('cobb', 'refine', run, '--epochs', '1', '--quiet')
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'refiner: validation SMAPE' in r.stdout and 'best.pt' in r.stdout
    assert json.loads((run / 'metrics.json').read_text())['refine']['epochs'] == 1
    for args, msg in (((run, '--epochs', '0'), 'at least 1'), ((data / 'aasce',), 'not a training run'), ((tmp_path / 'none',), 'not a training run'),
                      ((run, '--epochs', 'x'), 'invalid int value')):
        r = cli('cobb', 'refine', *args)
        assert r.returncode == 2 and msg in r.stderr and 'Traceback' not in r.stderr, (args, r.stderr)
    used = json.loads((run / 'metrics.json').read_text())['refine']['used']
    r = _sx('cobb', 'evaluate', '--run', run, '--n-boot', '20', '--readings', '1', '--quiet', '--no-refiner')
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads((run / 'eval-cobb-test-first-reading' / 'metrics.json').read_text())['facts']['refiner'] is None
    r = _sx('cobb', 'evaluate', '--run', run, '--n-boot', '20', '--readings', '1', '--quiet', '--out', tmp_path / 'ev')
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads((tmp_path / 'ev' / 'metrics.json').read_text())['facts']['refiner']['used'] == used

def test_ctrl_c_in_refine_keeps_a_model_that_measures(run):
    from scoliosis_xray.cobb_train import load_landmark_model
    before, ev = json.loads((run / 'metrics.json').read_text()).get('refine'), run / 'tb' / 'refine'
    n0 = len(list(ev.glob('events*')))
    p = subprocess.Popen([str(EXE), 'cobb', 'refine', str(run), '--epochs', '200', '--quiet'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))   # as in a terminal: a background job (CI) inherits SIGINT ignored
    try:
        t_end = time.time() + 300
        while p.poll() is None and time.time() < t_end and len(list(ev.glob('events*'))) <= n0: time.sleep(0.05)
        time.sleep(1.0)                                                  # in the refiner's epochs
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None: p.kill(); p.wait()
    assert p.returncode == 130, err[-2000:]
    assert 'refiner training interrupted' in err and 'cobb refine' in err and 'Traceback' not in err and len(err.strip().splitlines()) == 1, err
    assert json.loads((run / 'metrics.json').read_text()).get('refine') == before    # nothing half-written: the last refiner stays
    load_landmark_model(run / 'checkpoints' / 'best.pt')
