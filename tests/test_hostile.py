"""Issue 11: the package tried as a hostile or careless user would, through the console script. Each test here failed
before the fix it guards: odd but valid files, tracebacks, file names that are not UTF-8, errors blamed on the wrong
thing, advice that was wrong (each suggested command is followed), and privacy and hygiene of what is printed and
written."""
import json, os, re, shlex, shutil, stat, subprocess, sys, time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from scoliosis_xray.synth import make_dataset
from sxcli import cli, one_line_error

EXE = Path(sys.executable).parent / 'scoliosis-xray'
TINY = ['--image-size', '64x32', '--batch-size', '8', '--backbone', 'resnet18', '--weights', 'none', '--val', '0.25',
        '--test', '0.3', '--num-workers', '0', '--quiet']

def sx(*args, cwd=None, umask=None, **kw):
    "Run the console script; stdout and stderr as bytes decoded with surrogateescape (names that are not UTF-8 survive)."
    pre = (lambda: os.umask(umask)) if umask is not None else None
    r = subprocess.run([str(EXE), *(os.fsdecode(a) if isinstance(a, (str, bytes, os.PathLike)) else str(a) for a in args)], capture_output=True, cwd=cwd, preexec_fn=pre, **kw)
    r.stdout, r.stderr = (b.decode('utf-8', 'surrogateescape') for b in (r.stdout, r.stderr))
    return r

@pytest.fixture(scope='module')
def base(tmp_path_factory):
    "A small dataset and a run trained on it with `--epochs 1` and the default `--head-epochs` (which used to fail)."
    d = tmp_path_factory.mktemp('hostile')
    make_dataset(d / 'data', n=40, seed=4, height=256, progress=False)
    r = sx('train', '--data', d / 'data', '--out', d / 'run', '--epochs', 1, '--cache', d / 'cache', *TINY)
    assert r.returncode == 0, r.stderr[-3000:]
    return d

# item 1 -------------------------------------------------------------------------------------------------------------

def test_dicoms_with_a_tiff_like_preamble_and_thin_images_are_read(tmp_path):
    from pydicom.data import get_testdata_file
    from PIL import Image
    from scoliosis_xray.data import read_image, preprocess, sniff_format, DEFAULT_SIZE
    names = ['CT_small.dcm', 'examples_rgb_color.dcm', 'MR_small.dcm', 'MR_small_bigendian.dcm', 'MR_small_expb.dcm',
             'MR_small_implicit.dcm', 'MR_small_padded.dcm', 'MR_small_RLE.dcm']
    for n in names:
        f = get_testdata_file(n)
        assert sniff_format(f) == 'DICOM', n
        assert read_image(f).ndim == 2
    Image.fromarray(np.full((1, 5000), 200, np.uint8)).save(tmp_path / 'line.png')
    assert preprocess(read_image(tmp_path / 'line.png')).shape == DEFAULT_SIZE

# item 2 -------------------------------------------------------------------------------------------------------------

def _altered(src, dst, change):
    ck = torch.load(src, weights_only=True); change(ck); torch.save(ck, dst)
    return dst

class _Evil:
    def __reduce__(self): return (os.system, ('echo pwned',))

def test_bad_checkpoints_and_configs_end_in_one_line(base, tmp_path):
    best, data = base / 'run' / 'checkpoints' / 'best.pt', base / 'data'
    (tmp_path / 'empty.pt').write_bytes(b'')
    cases = {'empty.pt': 'empty or truncated',
             'wrong_backbone.pt': "do not fit its stated backbone 'resnet50'",
             'no_model_config.pt': 'lacks model_config', 'no_preprocess.pt': 'lacks preprocess',
             'bad_model_config.pt': 'a damaged checkpoint', 'bad_preprocess.pt': 'a damaged checkpoint'}
    _altered(best, tmp_path / 'wrong_backbone.pt', lambda c: c['model_config'].update(backbone='resnet50'))
    _altered(best, tmp_path / 'no_model_config.pt', lambda c: c.pop('model_config'))
    _altered(best, tmp_path / 'no_preprocess.pt', lambda c: c.pop('preprocess'))
    _altered(best, tmp_path / 'bad_model_config.pt', lambda c: c.update(model_config='resnet18'))
    _altered(best, tmp_path / 'bad_preprocess.pt', lambda c: c.update(preprocess={'size': 5}))
    for name, why in cases.items():
        one_line_error(cli('predict', '--checkpoint', tmp_path / name, data / 'Normal', '--quiet'), 'predict', why)
    one_line_error(cli('predict', '--checkpoint', best, data / 'Normal', '--batch-size', '-1'), 'predict', '--batch-size')
    # the same damage inside a run: evaluate and resume
    run = tmp_path / 'run'; shutil.copytree(base / 'run', run)
    (run / 'checkpoints' / 'best.pt').write_bytes(b''); (run / 'checkpoints' / 'last.pt').write_bytes(b'')
    one_line_error(cli('evaluate', '--run', run, '--no-cam', '--quiet'), 'evaluate', 'empty or truncated')
    one_line_error(cli('train', '--resume', run, '--quiet'), 'train', 'empty or truncated')
    run2 = tmp_path / 'run2'; shutil.copytree(base / 'run', run2)
    conf = json.loads((run2 / 'config.json').read_text())
    for bad in ({'image_size': 5}, {'epochs': 'x'}, {'lr': [1]}):
        (run2 / 'config.json').write_text(json.dumps(dict(conf, train=dict(conf['train'], **bad))))
        one_line_error(cli('train', '--resume', run2, '--quiet'), 'train', 'its training settings are not valid')

def test_out_of_range_numbers_are_refused_up_front(base, tmp_path):
    one_line_error(cli('synth', '--out', tmp_path / 's', '--n', 4, '--cobb-min', 'nan', '--quiet'), 'synth', 'cobb-min < cobb-max <= 90')
    one_line_error(cli('synth', '--out', tmp_path / 's', '--n', 4, '--cobb-max', 500, '--quiet'), 'synth', 'cobb-min < cobb-max <= 90')
    assert not (tmp_path / 's').exists()
    one_line_error(cli('evaluate', '--run', base / 'run', '--n-boot', 100000000), 'evaluate', '--n-boot: must be a whole number from 10 to 100000')
    one_line_error(cli('train', '--data', base / 'data', '--out', tmp_path / 'r', '--image-size', '100000x50000'), 'train', '32 to 4096 px')
    one_line_error(cli('audit', base / 'data', '--workers', 5000), 'audit', '--workers')
    from scoliosis_xray.data import ImageCache, load_dataset
    import concurrent.futures as cf
    started = []
    class Spy(cf.ProcessPoolExecutor):
        def __init__(self, n, *a, **kw): started.append(n); super().__init__(n, *a, **kw)
    df = load_dataset(base / 'data').head(3)
    orig = cf.ProcessPoolExecutor
    import scoliosis_xray.data as D
    D.ProcessPoolExecutor = Spy
    try: ImageCache(tmp_path / 'c').build(df, workers=1000, progress=False)
    finally: D.ProcessPoolExecutor = orig
    assert started and started[0] <= min(3, os.cpu_count()), started         # never more processes than images or cores

# item 3 -------------------------------------------------------------------------------------------------------------

def test_names_that_are_not_utf8_go_through_every_command(base, tmp_path):
    d = tmp_path / 'latin'; shutil.copytree(base / 'data', d, ignore=shutil.ignore_patterns('*.csv'))
    files = sorted(d.glob('*/*.png'))
    for k, f in enumerate(files):                                # every name Latin-1 (not UTF-8); a few with control characters
        name = f'p{k}\udce9rez' + ('\udcff\x1b[31m' if k % 7 == 0 else '') + '.png'
        f.rename(f.parent / name)
    r = sx('audit', d, '--json', tmp_path / 'a.json', '--cache', tmp_path / 'cache', '--quiet')
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.loads((tmp_path / 'a.json').read_bytes())
    assert rep['n_readable'] == len(files) and not rep['load_problems']
    r = sx('train', '--data', d, '--out', tmp_path / 'run', '--epochs', 1, '--cache', tmp_path / 'cache', *TINY)
    assert r.returncode == 0, r.stderr[-3000:]
    r = sx('evaluate', '--run', tmp_path / 'run', '--n-boot', 200, '--no-cam', '--quiet')
    assert r.returncode == 0, r.stderr[-3000:]
    pr = pd.read_csv(tmp_path / 'run' / 'eval' / 'predictions.csv', encoding_errors='surrogateescape')
    sp = pd.read_csv(tmp_path / 'run' / 'splits.csv', encoding_errors='surrogateescape')
    assert len(pr) == (sp.split == 'test').sum() and all(Path(p).exists() for p in pr.path)
    r = sx('predict', '--checkpoint', tmp_path / 'run' / 'checkpoints' / 'best.pt', d, '--quiet')
    assert r.returncode == 0, r.stderr[-2000:]
    assert len(r.stdout.strip().splitlines()) == len(files) + 1
    (d / 'Normal' / 'bad\udce9\n\x1b[2J.png').write_bytes(b'')             # an unreadable file: its name escaped in the message
    r = sx('predict', '--checkpoint', tmp_path / 'run' / 'checkpoints' / 'best.pt', d / 'Normal' / 'bad\udce9\n\x1b[2J.png', '--quiet')
    assert r.returncode == 1 and 'bad\\xe9\\x0a\\x1b[2J.png: empty file' in r.stderr and '\x1b' not in r.stderr, r.stderr

# item 4 -------------------------------------------------------------------------------------------------------------

def test_an_unwritable_cache_is_blamed_not_the_images(base, tmp_path):
    (tmp_path / 'a_file').write_text('x')                          # the tests run as root, so no folder is unwritable by mode
    cache = tmp_path / 'a_file' / 'cache'
    one_line_error(sx('audit', base / 'data', '--cache', cache, '--quiet'), 'audit', 'image cache folder')
    one_line_error(sx('train', '--data', base / 'data', '--out', tmp_path / 'r', '--cache', cache, *TINY), 'train', 'image cache folder')

def test_links_and_folders_named_like_images_are_listed(base, tmp_path):
    d = tmp_path / 'd'; shutil.copytree(base / 'data', d, ignore=shutil.ignore_patterns('*.csv'))   # a folder per class
    os.symlink(d / 'gone.png', d / 'Normal' / 'dangling.png'); os.symlink(d / 'Normal' / 'loop.png', d / 'Normal' / 'loop.png')
    (d / 'Scoliosis' / 'folder.png').mkdir()
    r = sx('audit', d, '--json', tmp_path / 'a.json', '--cache', tmp_path / 'cache', '--quiet')
    assert r.returncode == 0, r.stderr
    probs = {Path(p['path']).name: p['reason'] for p in json.loads((tmp_path / 'a.json').read_text())['load_problems']}
    assert 'dangling symbolic link' in probs['dangling.png'] and 'link loop' in probs['loop.png'] and 'folder' in probs['folder.png']
    assert 'dangling.png' in r.stdout and 'loop.png' in r.stdout

# item 5 -------------------------------------------------------------------------------------------------------------

def _suggested_map(text):
    return re.search(r'--class-map (\S+)', text).group(1)

@pytest.mark.parametrize('folders', [{'Normal': 'Normal', 'Scoliosis': 'Scoliosis', 'Other': 'Normal'},
                                     {'healthy': 'Normal', 'curved': 'Scoliosis'},
                                     {'negative': 'Normal', 'positive': 'Scoliosis', 'misc': 'Scoliosis'}])
def test_class_map_advice_does_the_right_thing_when_followed(base, tmp_path, folders):
    d = tmp_path / 'd'
    for name, src in folders.items(): shutil.copytree(base / 'data' / src, d / name)
    r = sx('audit', d, '--cache', tmp_path / 'cache', '--quiet')
    one_line_error(r, 'audit', '--class-map')
    cm = _suggested_map(r.stderr)
    r = sx('audit', d, '--class-map', cm, '--json', tmp_path / 'a.json', '--cache', tmp_path / 'cache', '--quiet')
    assert r.returncode == 0, r.stderr
    rep = json.loads((tmp_path / 'a.json').read_text())
    from scoliosis_xray.data import load_dataset, parse_class_map
    df = load_dataset(d, class_map=parse_class_map(cm))
    truth = {'Normal': 'Normal', 'Scoliosis': 'Scoliosis', 'healthy': 'Normal', 'curved': 'Scoliosis', 'negative': 'Normal', 'positive': 'Scoliosis'}
    for p, lab in zip(df.path, df.label): assert truth[Path(p).parent.name] == lab, (p, lab)   # nothing filed under the wrong class
    assert {Path(p).parent.name for p in df.path} == set(folders) & set(truth)                 # the real class folders all kept
    assert rep['n_readable'] == len(df)

def test_resume_of_a_dataset_suggests_a_run_outside_it(base, tmp_path):
    d = tmp_path / 'data'; shutil.copytree(base / 'data', d)
    r = sx('train', '--resume', d, '--quiet')
    last = one_line_error(r, 'train', 'scoliosis-xray train --data')
    cmd = shlex.split(re.search(r'`(scoliosis-xray train [^`]*)`', last).group(1))
    out = Path(cmd[cmd.index('--out') + 1])
    assert Path(cmd[cmd.index('--data') + 1]).resolve() == d.resolve()
    r = sx(*cmd[1:], '--epochs', 1, '--cache', tmp_path / 'cache', *TINY, cwd=tmp_path)            # followed: a run beside the data
    assert r.returncode == 0, r.stderr[-2000:]
    run = (tmp_path / out) if not out.is_absolute() else out
    assert (run / 'config.json').exists() and d.resolve() not in run.resolve().parents

def test_malicious_files_are_refused_without_the_advice_to_load_them_unsafely(base, tmp_path):
    torch.save({'model': _Evil()}, tmp_path / 'evil.pt')
    last = one_line_error(sx('predict', '--checkpoint', tmp_path / 'evil.pt', base / 'data' / 'Normal'), 'predict', 'refused')
    assert 'weights_only' not in last
    r = sx('train', '--data', base / 'data', '--out', tmp_path / 'r', '--epochs', 1, '--cache', tmp_path / 'cache',
           *[w if w != 'none' else str(tmp_path / 'evil.pt') for w in TINY])
    last = one_line_error(r, 'train', 'refused')
    assert 'weights_only' not in r.stderr and 'pwned' not in r.stdout

# item 7 -------------------------------------------------------------------------------------------------------------

def test_file_contents_are_never_echoed_and_label_conflicts_named(base, tmp_path):
    secret = tmp_path / 'shadow'; secret.write_text('root:$6$SECRETHASH:19000:0:99999:7:::\n')
    imgs = sorted((base / 'data').glob('*/*.png'))
    rows = [(str(p), p.parent.name) for p in imgs] + [(str(secret), 'Normal'), (str(imgs[0]), 'Scoliosis')]
    pd.DataFrame(rows, columns=['path', 'label']).to_csv(tmp_path / 'm.csv', index=False)
    r = sx('audit', tmp_path / 'm.csv', '--json', tmp_path / 'a.json', '--cache', tmp_path / 'cache', '--quiet')
    assert r.returncode == 0, r.stderr
    text = (tmp_path / 'a.json').read_text()
    assert 'SECRETHASH' not in text and 'root:' not in text and 'SECRETHASH' not in r.stdout + r.stderr
    rep = json.loads(text)
    assert any(u['path'] == str(secret) and 'it holds text' in u['reason'] for u in rep['unreadable'])
    assert any(p['path'] == str(imgs[0]) and 'label conflict' in p['reason'] for p in rep['load_problems'])
    assert not any('listed more than once' in p['reason'] for p in rep['load_problems'])

def test_formula_names_are_neutralised_and_files_get_the_umask(base, tmp_path):
    for n in ('=HYPERLINK("x").png', '+1.png', '-2.png', '@3.png'): shutil.copy(sorted((base / 'data' / 'Normal').glob('*.png'))[0], tmp_path / n)
    best = base / 'run' / 'checkpoints' / 'best.pt'
    r = sx('predict', '--checkpoint', best, '--out', 'p.csv', '--quiet', '--', '=HYPERLINK("x").png', '+1.png', '-2.png', '@3.png',
           cwd=tmp_path, umask=0o022)
    assert r.returncode == 0, r.stderr
    cells = [line.split(',')[0] for line in (tmp_path / 'p.csv').read_text().splitlines()[1:]]
    assert all(c.startswith(("'", '"\'')) for c in cells), cells
    assert stat.S_IMODE((tmp_path / 'p.csv').stat().st_mode) == 0o644
    for f in (base / 'run' / 'config.json', base / 'run' / 'checkpoints' / 'best.pt', base / 'run' / 'splits.csv'):
        assert stat.S_IMODE(f.stat().st_mode) == 0o666 & ~0o022 or stat.S_IMODE(f.stat().st_mode) == 0o644, (f, oct(f.stat().st_mode))

# item 6 -------------------------------------------------------------------------------------------------------------

@pytest.fixture
def silent_endpoint():
    "An endpoint that accepts connections and never answers (a dead proxy)."
    import socket, threading
    srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(16)
    held, stop = [], threading.Event()
    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try: held.append(srv.accept()[0])
            except OSError: pass
    t = threading.Thread(target=accept, daemon=True); t.start()
    yield f'http://127.0.0.1:{srv.getsockname()[1]}'
    stop.set(); t.join(); [c.close() for c in held]; srv.close()

def _tb_run(tmp_path):
    run = tmp_path / 'run'; (run / 'tb').mkdir(parents=True); (run / 'tb' / 'events.out.tfevents.1').write_bytes(b'x' * 100)
    return run

def test_publish_to_a_silent_endpoint_ends_in_bounded_time(tmp_path, silent_endpoint, monkeypatch):
    import scoliosis_xray.deploy as D
    monkeypatch.setattr(D, 'CONNECT_TIMEOUT', 1); monkeypatch.setattr(D, 'READ_TIMEOUT', 1); monkeypatch.setattr(D, 'ATTEMPTS', 2)
    monkeypatch.setenv('AWS_ACCESS_KEY_ID', 'x'); monkeypatch.setenv('AWS_SECRET_ACCESS_KEY', 'y')
    seen = []
    t0 = time.monotonic()
    with pytest.raises(Exception) as e:
        D.publish(_tb_run(tmp_path), 'my-bucket', endpoint_url=silent_endpoint, region='us-east-1', log=seen.append)
    assert time.monotonic() - t0 < 20 and 'timeout' in str(e.value).lower(), (time.monotonic() - t0, e.value)
    assert seen and seen[0].startswith('comparing 1 file(s) with s3://my-bucket/runs/run/')      # said something at once
    c = D.s3_client('http://localhost:1')._client_config
    assert (c.connect_timeout, c.read_timeout, c.retries['total_max_attempts']) == (D.CONNECT_TIMEOUT, D.READ_TIMEOUT, D.ATTEMPTS + 1)   # botocore: retries + 1

def test_publish_dry_run_needs_no_credentials(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith('AWS_')}
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / 'none'), AWS_CONFIG_FILE=str(tmp_path / 'none'), AWS_EC2_METADATA_DISABLED='true')
    r = sx('publish', '--run', _tb_run(tmp_path), '--bucket', 'my-bucket', '--region', 'us-east-1', '--dry-run', env=env)
    assert r.returncode == 0, r.stderr
    assert 'would upload tb/events.out.tfevents.1' in r.stdout and 'would upload 1 file(s)' in r.stdout and 'could not list the bucket' in r.stdout, r.stdout
