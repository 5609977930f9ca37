"""What a user sees in a real browser (issue 13): JupyterLab running a notebook on the project's kernel, and
TensorBoard's dashboard on a small training run. Headless Chromium from Debian, driven by Playwright (tools/browser.py);
skipped with the reason where Chromium or Playwright is missing. Screenshots go to _screenshots/ (gitignored), or to
nbs/images/ under `make screenshots` (the docs page 50_jupyterlab shows them)."""
import json, os, shutil, signal, subprocess, sys, time, urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tools'))
import browser, lab  # noqa: E402

NOTEBOOK = '10_synth.ipynb'
DRAW = 'img, lm, info = render(p)'          # the cell that draws one radiograph (section "Drawing a radiograph")

def _stop(proc, timeout=15):
    if proc is None or proc.poll() is not None: return
    os.killpg(proc.pid, signal.SIGTERM)
    try: proc.wait(timeout)
    except subprocess.TimeoutExpired: os.killpg(proc.pid, signal.SIGKILL); proc.wait()

def _settings(d):
    "JupyterLab user settings for a fresh profile: every cell in the page (no virtual scrolling), no news prompt."
    for ext, name, val in [('@jupyterlab/notebook-extension', 'tracker', {'windowingMode': 'none'}),
                           ('@jupyterlab/apputils-extension', 'notification', {'fetchNews': 'false', 'checkForUpdates': False})]:
        f = d / ext / f'{name}.jupyterlab-settings'; f.parent.mkdir(parents=True, exist_ok=True); f.write_text(json.dumps(val))

@pytest.fixture(scope='module')
def jupyterlab(tmp_path_factory):
    "JupyterLab on a copy of the notebook (the test never writes nbs/), a fresh profile, the project's kernel, a free port."
    if why := browser.why_not(): pytest.skip(why)
    d = tmp_path_factory.mktemp('lab')
    nbs = d / 'nbs'; nbs.mkdir(); shutil.copy(ROOT / 'nbs' / NOTEBOOK, nbs)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(d / 'config'), JUPYTER_DATA_DIR=str(d / 'data'), JUPYTER_RUNTIME_DIR=str(d / 'run'),
               JUPYTER_PATH=str(d / 'prefix' / 'share' / 'jupyter'), JUPYTERLAB_SETTINGS_DIR=str(d / 'settings'),
               JUPYTERLAB_WORKSPACES_DIR=str(d / 'ws'), IPYTHONDIR=str(d / 'ipython'), OMP_NUM_THREADS='1', PYTHONPATH=str(ROOT))
    env.pop('IN_TEST', None)
    lab.register_kernel(prefix=d / 'prefix')                   # the kernel `make lab` registers, here in a scratch prefix
    _settings(d / 'settings')
    port, token = browser.free_port(), 'sx-test-token'
    log = d / 'jupyterlab.log'
    with open(log, 'wb') as f:
        proc = subprocess.Popen(lab.lab_command(nbs, port, token), env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
    base = f'http://127.0.0.1:{port}'
    try:
        up = browser.wait_http(f'{base}/api/status?token={token}', 120, proc)
        assert up, f'JupyterLab did not start:\n{log.read_text()[-3000:]}'
        yield dict(base=base, token=token, nbs=nbs, log=log, proc=proc)
    finally:
        _stop(proc)

def _kernels(lab_):
    with urllib.request.urlopen(f"{lab_['base']}/api/kernels?token={lab_['token']}", timeout=10) as r: return json.loads(r.read())

def _wait(page, lab_, ready, what, timeout):
    "Poll `ready()` until true; fail at once if JupyterLab exits or the kernel dies, and after `timeout` seconds."
    end = time.time() + timeout
    while time.time() < end:
        if lab_['proc'].poll() is not None: pytest.fail(f'JupyterLab exited while waiting for {what}:\n{lab_["log"].read_text()[-3000:]}')
        ks = _kernels(lab_)
        if any(k['execution_state'] == 'dead' for k in ks) or page.get_by_text('Kernel Restarting').count():
            browser.shot(page, 'jupyterlab-failed.png'); pytest.fail(f'the kernel died while waiting for {what}:\n{lab_["log"].read_text()[-3000:]}')
        if ready(): return
        page.wait_for_timeout(500)
    browser.shot(page, 'jupyterlab-failed.png')
    pytest.fail(f'{what}: nothing after {timeout}s (screenshot jupyterlab-failed.png)\n{lab_["log"].read_text()[-2000:]}')

def test_jupyterlab_draws_a_radiograph(jupyterlab):
    "Open the notebook, run what the drawing cell needs and the cell itself, see the radiograph; add a cell, see a widget."
    lab_ = jupyterlab
    spec = json.loads((ROOT / 'nbs' / NOTEBOOK).read_text())['metadata'].get('kernelspec', {})
    assert spec.get('name') == lab.KERNEL, f'nbs/{NOTEBOOK} names kernel {spec.get("name")!r}, not {lab.KERNEL!r}: run `make kernel-metadata`'
    cells_src = [''.join(c['source']) for c in json.loads((lab_['nbs'] / NOTEBOOK).read_text())['cells']]
    kinds = [c['cell_type'] for c in json.loads((lab_['nbs'] / NOTEBOOK).read_text())['cells']]
    k = next(i for i, s in enumerate(cells_src) if DRAW in s)
    above = max(i for i in range(k) if kinds[i] == 'code')          # the last code cell above it
    with browser.browser() as b:
        page = b.new_page(viewport={'width': 1400, 'height': 900})
        page.goto(f"{lab_['base']}/lab/tree/{NOTEBOOK}?token={lab_['token']}", timeout=120_000)
        cells = page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')
        _wait(page, lab_, lambda: cells.count() == len(cells_src), 'the notebook to open', 120)
        _wait(page, lab_, lambda: any(k_['name'] == lab.KERNEL and k_['execution_state'] == 'idle' for k_ in _kernels(lab_)),
              f'the {lab.KERNEL} kernel to start', 120)
        assert page.locator('.jp-Toolbar-kernelName').first.inner_text().strip() == lab.KERNEL
        cell = cells.nth(k)
        cell.locator('.jp-InputPrompt').click()                      # select the drawing cell (command mode)
        page.locator('.lm-MenuBar-itemLabel', has_text='Run').first.click()
        page.locator('.lm-Menu-itemLabel', has_text='Run All Above Selected Cell').first.click()
        busy_done = lambda: all(k_['execution_state'] == 'idle' for k_ in _kernels(lab_))
        page.wait_for_timeout(1000)
        _wait(page, lab_, lambda: busy_done() and cells.nth(above).locator('.jp-InputPrompt').inner_text().strip() not in ('[*]:', '[ ]:'),
              'the cells above the drawing cell to run', 300)
        cell.locator('.jp-InputPrompt').click()
        page.keyboard.press('Shift+Enter')                           # run it, as a user does
        img = cell.locator('.jp-OutputArea-output img')
        _wait(page, lab_, lambda: img.count() > 0 and img.first.evaluate('e => e.complete && e.naturalWidth > 0'),
              'the radiograph to appear', 180)
        errors = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
        assert errors.count() == 0, [errors.nth(i).inner_text() for i in range(errors.count())]
        cell.scroll_into_view_if_needed()
        browser.shot(page, 'jupyterlab-radiograph.png')
        # change the notebook: a new cell below with a progress bar; it renders as a widget, with no TqdmWarning
        page.keyboard.press('Escape'); cell.locator('.jp-InputPrompt').click(); page.keyboard.press('b')
        new = cells.nth(k + 1)
        new.locator('.cm-content').click()
        page.keyboard.type('from tqdm.auto import tqdm\nfor _ in tqdm(range(3), desc="drawing"): render(p)')
        page.keyboard.press('Shift+Enter')
        bar = new.locator('.widget-hprogress, .jupyter-widgets .progress, .widget-progress')
        _wait(page, lab_, lambda: bar.count() > 0 and busy_done() and 'drawing' in new.inner_text(), 'the progress bar widget', 120)
        assert 'TqdmWarning' not in new.inner_text() and 'IProgress not found' not in new.inner_text(), new.inner_text()
        browser.shot(page, 'jupyterlab-progress.png')
    assert not any(k_['execution_state'] == 'dead' for k_ in _kernels(lab_))


# ---------------------------------------------------------------------------------------------------------------- TensorBoard

@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
    "A real training run, as small as it gets: 16 synthetic radiographs, resnet18 from random weights, 2 epochs (~10 s)."
    import warnings
    from scoliosis_xray.synth import make_dataset
    from scoliosis_xray.train import train
    d = tmp_path_factory.mktemp('tb')
    make_dataset(d / 'data', n=16, seed=1, height=256, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')                             # "few images per split": known and intended here
        train(out=str(d / 'run'), data=str(d / 'data'), epochs=2, head_epochs=1, backbone='resnet18', weights='none',
              image_size=(96, 48), batch_size=8, num_workers=0, val=0.25, test=0.2, cache=str(d / 'cache'), progress=False, seed=0)
    return d / 'run'

def test_training_run_is_named(tiny_run):
    "TensorBoard's run selector shows `train` (and `train/hparams`), never `.` (events at the root of tb/)."
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer
    mux = EventMultiplexer().AddRunsFromDirectory(str(tiny_run / 'tb')); mux.Reload()
    assert sorted(mux.Runs()) == ['train', 'train/hparams'], sorted(mux.Runs())

def test_legacy_run_still_read(tmp_path):
    "A run from before named sub-runs (events at the root of tb/) still reads back."
    from scoliosis_xray.core import tb_writer
    from scoliosis_xray.train import read_scalars
    with tb_writer(tmp_path / 'tb') as w: w.add_scalar('loss/val', 0.5, 1)
    with tb_writer(tmp_path / 'tb', 'eval/test') as w: w.add_scalar('eval/test/roc_auc', 0.9, 0)
    got = read_scalars(tmp_path / 'tb')
    assert [(s, round(v, 6)) for s, v in got['loss/val']] == [(1, 0.5)] and 'eval/test/roc_auc' in got, got

@pytest.fixture(scope='module')
def tensorboard(tiny_run, tmp_path_factory):
    if why := browser.why_not(): pytest.skip(why)
    port = browser.free_port(); log = tmp_path_factory.mktemp('tblog') / 'tensorboard.log'
    with open(log, 'wb') as f:
        proc = subprocess.Popen([sys.executable, '-m', 'tensorboard.main', '--logdir', 'tb', '--host', '127.0.0.1',   # as a user starts it
                                 '--port', str(port), '--reload_interval', '0'], cwd=tiny_run, stdout=f, stderr=subprocess.STDOUT,
                                start_new_session=True)
    base = f'http://127.0.0.1:{port}'
    try:
        assert browser.wait_http(f'{base}/data/runs', 90, proc), f'TensorBoard did not start:\n{log.read_text()[-3000:]}'
        yield base
    finally:
        _stop(proc)

def _drawn(card):
    "True if a chart card has a drawn line (an SVG path with at least one segment)."
    return any('L' in (p.get_attribute('d') or '') for p in card.locator('path.line').all())

def test_tensorboard_dashboard(tensorboard):
    "The scalars dashboard lists the run `train` and draws its loss and ROC-AUC; the PR curve and the images show data."
    base = tensorboard
    with browser.browser() as b:
        page = b.new_page(viewport={'width': 1400, 'height': 900})
        page.goto(f'{base}/#scalars&tagFilter=loss%7Croc_auc', timeout=60_000)
        page.get_by_text('train', exact=True).first.wait_for(state='visible', timeout=60_000)   # the run selector
        assert page.get_by_text('.', exact=True).count() == 0, 'a run is listed as "."'
        cards = page.locator('tf-scalar-card')
        for tag in ['loss/train', 'loss/val', 'roc_auc/train', 'roc_auc/val']:
            card = cards.filter(has=page.get_by_text(f'tag: {tag}', exact=True))
            card.first.wait_for(timeout=30_000)
            deadline = time.time() + 30
            while not _drawn(card.first) and time.time() < deadline: page.wait_for_timeout(300)
            assert _drawn(card.first), f'the {tag} chart shows no line'
        browser.shot(page, 'tensorboard-scalars.png')
        page.goto(f'{base}/#pr_curves', timeout=60_000)
        pr = page.locator('tf-pr-curve-card').filter(has=page.get_by_text('pr/val'))
        pr.first.wait_for(timeout=30_000)
        deadline = time.time() + 30
        while not _drawn(pr.first) and time.time() < deadline: page.wait_for_timeout(300)
        assert _drawn(pr.first), 'the PR curve pr/val shows no curve'
        page.goto(f'{base}/#images', timeout=60_000)
        imgs = page.locator('tf-image-loader img')
        deadline = time.time() + 30
        while not (imgs.count() and imgs.first.evaluate('e => e.complete && e.naturalWidth > 0')) and time.time() < deadline: page.wait_for_timeout(300)
        assert imgs.count() and imgs.first.evaluate('e => e.complete && e.naturalWidth > 0'), 'the images tab shows no image'
        for tag in ['roc/val', 'confusion/val']: assert page.get_by_text(f'tag: {tag}', exact=True).count(), f'images tab lacks {tag}'
        browser.shot(page, 'tensorboard-images.png')


def test_every_notebook_names_the_kernel():
    "JupyterLab opens every notebook on the project's kernel without asking (tools/set_kernel.py sets it)."
    r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'set_kernel.py'), '--check'], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
