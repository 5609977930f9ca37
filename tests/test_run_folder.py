"""The run folder's promises across releases and places: a run written by the previous release still evaluates,
resumes and serves predictions; a run moved together with its data evaluates where it lands, without being told where
its data went and without creating folders in the current directory; two processes never train into one folder."""
import json, os, shutil, subprocess, sys, tarfile, io
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LEGACY = '92a8b91'          # the last release before the run folder became a typed, locked `Run`
TINY = dict(epochs=1, head_epochs=0, image_size=(64, 32), batch_size=4, backbone='resnet18', weights='none', val=0.25,
            test=0.25, num_workers=0, max_batches=2, seed=0)
ENV = dict(os.environ, OMP_NUM_THREADS='1')

def _legacy_package(dest:Path)->Path|None:
    "The package as the legacy release shipped it, unpacked under `dest` (None outside a git checkout with that commit)."
    try: tar = subprocess.run(['git', 'archive', LEGACY, 'scoliosis_xray'], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError): return None
    tarfile.open(fileobj=io.BytesIO(tar)).extractall(dest)
    return dest

def _py(code:str, path:Path)->subprocess.CompletedProcess:
    "Run `code` in a fresh Python that imports the package from `path` (started in `path`: `-c` puts the current directory first)."
    return subprocess.run([sys.executable, '-c', code], env=dict(ENV, PYTHONPATH=str(path)), cwd=path, capture_output=True, text=True, timeout=600)

@pytest.fixture(scope='module')
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp('data') / 'data'
    from scoliosis_xray.synth import make_dataset
    make_dataset(d, n=24, seed=2, height=256, progress=False)
    return d

def test_a_legacy_run_still_evaluates_resumes_and_predicts(tmp_path, data):
    old = _legacy_package(tmp_path / 'legacy')
    if old is None: pytest.skip(f'release {LEGACY} is not in this checkout\'s history')
    run = tmp_path / 'legacy-run'
    r = _py(f'from scoliosis_xray.train import train\ntrain(data={str(data)!r}, out={str(run)!r}, cache={str(tmp_path / "cache")!r}, progress=False, **{TINY!r})', old)
    assert r.returncode == 0, r.stderr[-2000:]
    assert not (run / '.scoliosis-xray-files.json').exists()            # written by the old release indeed
    from scoliosis_xray.evaluate import evaluate_run
    from scoliosis_xray.train import resume, load_model
    from scoliosis_xray.predict import predict
    ev = evaluate_run(run, n_boot=50, progress=False, tensorboard=False)
    assert ev['metrics']['n'] == len([l for l in (run / 'splits.csv').read_text().splitlines() if ',test,' in l])
    assert resume(run, progress=False)['complete']
    model, ck = load_model(run / 'checkpoints' / 'best.pt')
    assert ck.classes == ['Normal', 'Scoliosis'] and ck.preprocess.size == (64, 32)
    df = predict(run / 'checkpoints' / 'best.pt', [data / 'Normal'], progress=False)
    assert (df.error == '').all() and df.prob_scoliosis.between(0, 1).all()

def test_a_moved_run_evaluates_where_it_lands(tmp_path, data):
    from scoliosis_xray.train import train
    from scoliosis_xray.evaluate import evaluate_run
    home = tmp_path / 'project'; shutil.copytree(data, home / 'data')
    train(data=str(home / 'data'), out=str(home / 'runs' / 'r'), cache=str(home / 'cache'), progress=False, **TINY)
    first = evaluate_run(home / 'runs' / 'r', n_boot=50, progress=False, tensorboard=False)['metrics']
    moved = tmp_path / 'elsewhere'; shutil.move(str(home), str(moved))          # the run and its data, copied to another place
    elsewhere = tmp_path / 'cwd'; elsewhere.mkdir(); here = os.getcwd(); os.chdir(elsewhere)
    try: again = evaluate_run(moved / 'runs' / 'r', n_boot=50, progress=False, tensorboard=False)['metrics']
    finally: os.chdir(here)
    assert again['n'] == first['n'] and again['operating_points']['chosen']['metrics']['roc_auc'] == first['operating_points']['chosen']['metrics']['roc_auc']
    assert list(elsewhere.iterdir()) == []                                      # nothing created in the current directory

def test_two_trainers_never_share_a_folder(tmp_path, data):
    "Two `scoliosis-xray train` processes on one --out: the second is refused with one line, the first finishes a clean run."
    out = tmp_path / 'run'
    cmd = [str(Path(sys.executable).parent / 'scoliosis-xray'), 'train', '--data', str(data), '--out', str(out), '--cache', str(tmp_path / 'cache'),
           '--epochs', '2', '--head-epochs', '0', '--image-size', '64x32', '--batch-size', '4', '--backbone', 'resnet18',
           '--weights', 'none', '--val', '0.25', '--test', '0.25', '--num-workers', '0', '--quiet']
    env = dict(ENV, PYTHONPATH=str(ROOT))
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    import time
    deadline = time.time() + 120
    while not (out / '.lock').exists() and time.time() < deadline: time.sleep(0.05)
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    o, e = first.communicate(timeout=600)
    assert first.returncode == 0, e[-2000:]
    assert second.returncode != 0 and ('being written by' in second.stderr or 'already holds this run' in second.stderr), second.stderr
    assert 'Traceback' not in second.stderr
    m = json.loads((out / 'metrics.json').read_text())
    assert m['complete'] and len(m['history']) == 2
