"""ImageNet weights as a user gets them: TORCH_HOME set before Python starts, the torch hub cache, the download path
(faked, so no test touches the network), failing fast and clearly when nothing is reachable."""
import json, os, socket, subprocess, sys, textwrap, time, urllib.error
from pathlib import Path

import pytest
import torch
import torchvision

import scoliosis_xray.model as M

ROOT = Path(__file__).resolve().parent.parent
FNAME = 'resnet50-11ad3fa6.pth'   # the file name in ResNet50_Weights.IMAGENET1K_V2's url


def _env(torch_home, **extra):
    env = {k: v for k, v in os.environ.items() if k not in ('TORCH_HOME', M.OFFLINE_ENV)}
    env.update(TORCH_HOME=str(torch_home), PYTHONPATH=str(ROOT) + os.pathsep + env.get('PYTHONPATH', ''), OMP_NUM_THREADS='1')
    env.update(extra)
    return env


def _py(code, env, timeout=300):
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    monkeypatch.delenv(M.OFFLINE_ENV, raising=False)
    return tmp_path / 'torch'


def test_file_name_matches_torchvision():
    w = M.imagenet_weights('resnet50')
    assert w is torchvision.models.ResNet50_Weights.IMAGENET1K_V2
    assert w.url.rsplit('/', 1)[1] == FNAME


def test_imagenet_from_hub_cache_in_a_fresh_process(tmp_path):
    "TORCH_HOME set before Python starts, the file where torch hub looks: exactly those tensors are loaded."
    home = tmp_path / 'torch'
    (home / 'hub' / 'checkpoints').mkdir(parents=True)
    torch.manual_seed(0)
    sd = torchvision.models.resnet50().state_dict()
    torch.save(sd, home / 'hub' / 'checkpoints' / FNAME)
    r = _py("""
        import json, torch
        from scoliosis_xray.model import build_model
        m, info = build_model('resnet50', weights='imagenet')
        sd = torch.load(info['source'], weights_only=True)
        own = m.backbone.state_dict()
        info['same'] = sorted(own) == sorted(k for k in sd if not k.startswith('fc.')) and all(torch.equal(own[k], sd[k]) for k in own)
        print(json.dumps(info))
    """, _env(home))
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout.strip().splitlines()[-1])
    assert info['same'] is True
    assert info['used'] == 'imagenet:IMAGENET1K_V2' and info['requested'] == 'imagenet'
    assert info['source'] == str(home / 'hub' / 'checkpoints' / FNAME)
    assert info['sha256'] == M.sha256_file(home / 'hub' / 'checkpoints' / FNAME)
    assert info['warning'] is None


def test_missing_weights_in_a_fresh_process(tmp_path):
    """No file and downloads off: 'imagenet' raises a one-line error naming the file, the folder and --weights none,
    without waiting; 'auto' trains from random initialisation and says so in one line on stderr, with no logging set up."""
    home = tmp_path / 'torch'
    r = _py("""
        import time
        from scoliosis_xray.model import build_model, WeightsUnavailableError
        t0 = time.time()
        try: build_model('resnet50', weights='imagenet')
        except WeightsUnavailableError as e: print('ERROR', e)
        print('SECONDS', time.time() - t0)
        m, info = build_model('resnet18', weights='auto')
        print('USED', info['used'])
    """, _env(home, **{M.OFFLINE_ENV: '1'}), timeout=120)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    err = [l for l in out if l.startswith('ERROR')]
    assert len(err) == 1, r.stdout
    assert FNAME in err[0] and str(home / 'hub' / 'checkpoints') in err[0] and '--weights none' in err[0]
    assert float([l for l in out if l.startswith('SECONDS')][0].split()[1]) < 5
    assert 'USED random' in out
    warn = [l for l in r.stderr.splitlines() if 'ImageNet weights' in l]
    assert len(warn) == 1 and 'random initialisation' in warn[0] and 'resnet18-f37072fd.pth' in warn[0], r.stderr


def test_cached_file_needs_no_network(torch_home, monkeypatch):
    "With the file cached, building never opens a socket."
    (torch_home / 'hub' / 'checkpoints').mkdir(parents=True)
    torch.save(torchvision.models.resnet50().state_dict(), torch_home / 'hub' / 'checkpoints' / FNAME)
    def no_network(*a, **k): raise AssertionError('network used')
    monkeypatch.setattr(socket.socket, 'connect', no_network)
    monkeypatch.setattr(socket, 'create_connection', no_network)
    _, info = M.build_model('resnet50', weights='imagenet', download=True)
    assert info['used'] == 'imagenet:IMAGENET1K_V2'


def test_download_goes_through_torch_hub(torch_home, monkeypatch):
    "Not cached, server reachable: torch hub downloads the enum's url into the cache and the weights are used."
    torch.manual_seed(1)
    sd = torchvision.models.resnet50().state_dict()
    calls = []
    def fake_download(url, dst, hash_prefix=None, progress=True):
        calls.append((url, dst, hash_prefix)); torch.save(sd, dst)
    monkeypatch.setattr(M, 'reachable', lambda url, timeout=None: True)
    monkeypatch.setattr(torch.hub, 'download_url_to_file', fake_download)
    m, info = M.build_model('resnet50', weights='imagenet')
    assert len(calls) == 1
    url, dst, hash_prefix = calls[0]
    assert url == torchvision.models.ResNet50_Weights.IMAGENET1K_V2.url
    assert Path(dst) == torch_home / 'hub' / 'checkpoints' / FNAME and hash_prefix == '11ad3fa6'   # torch hub checks the hash
    assert torch.equal(m.backbone.conv1.weight, sd['conv1.weight'])
    assert info['used'] == 'imagenet:IMAGENET1K_V2' and info['sha256'] == M.sha256_file(dst)


def test_download_failure_is_unavailable(torch_home, monkeypatch):
    "The server looked reachable but the download failed: WeightsUnavailableError with the fix; 'auto' falls back."
    def broken(url, dst, hash_prefix=None, progress=True): raise urllib.error.URLError('connection reset')
    monkeypatch.setattr(M, 'reachable', lambda url, timeout=None: True)
    monkeypatch.setattr(torch.hub, 'download_url_to_file', broken)
    with pytest.raises(M.WeightsUnavailableError, match='could not be downloaded') as e:
        M.build_model('resnet50', weights='imagenet')
    assert FNAME in str(e.value) and '--weights none' in str(e.value)
    _, info = M.build_model('resnet50', weights='auto')
    assert info['used'] == 'random' and 'the download failed' in info['warning']


def test_unreachable_server_fails_fast(torch_home, monkeypatch):
    "A server that accepts connections and never answers: `reachable` gives up in its timeout, nothing hangs."
    silent = socket.socket(); silent.bind(('127.0.0.1', 0)); silent.listen(1)
    try:
        t0 = time.time()
        assert M.reachable(f'http://127.0.0.1:{silent.getsockname()[1]}/x.pth', timeout=1.0) is False
        assert time.time() - t0 < 2.5
    finally:
        silent.close()
    monkeypatch.setattr(M, 'reachable', lambda url, timeout=None: False)
    t0 = time.time()
    with pytest.raises(M.WeightsUnavailableError, match='cannot be reached'):
        M.build_model('resnet50', weights='imagenet')
    assert time.time() - t0 < 5


def test_auto_warns_in_one_line(torch_home, caplog):
    with caplog.at_level('WARNING', logger='scoliosis_xray.model'):
        m, info = M.build_model('resnet50', weights='auto', download=False)
    assert info['used'] == 'random' and info['requested'] == 'auto'
    recs = [r for r in caplog.records if r.name == 'scoliosis_xray.model']
    assert len(recs) == 1 and '\n' not in recs[0].getMessage()
    assert FNAME in info['warning'] and 'random initialisation' in info['warning']
    json.dumps(info)


def test_cached_file_of_another_backbone(torch_home):
    "A resnet18 file saved under the resnet50 name: a clear WeightsFileError, not a stack of key names."
    (torch_home / 'hub' / 'checkpoints').mkdir(parents=True)
    torch.save(torchvision.models.resnet18().state_dict(), torch_home / 'hub' / 'checkpoints' / FNAME)
    with pytest.raises(M.WeightsFileError, match='delete it'):
        M.build_model('resnet50', weights='imagenet', download=False)


@pytest.mark.parametrize('backbone', ['efficientnet_b0', 'densenet121'])
def test_other_backbones_from_their_hub_file(torch_home, backbone):
    "Other backbones load their own torchvision files the same way (DenseNet's old key names included)."
    w = M.imagenet_weights(backbone)
    (torch_home / 'hub' / 'checkpoints').mkdir(parents=True)
    sd = torchvision.models.get_model(backbone).state_dict()
    torch.save(sd, torch_home / 'hub' / 'checkpoints' / w.url.rsplit('/', 1)[1])
    m, info = M.build_model(backbone, weights='imagenet', download=False)
    assert info['used'] == f'imagenet:{w.name}'
    own = m.backbone.state_dict()
    assert all(torch.equal(own[k], sd[k]) for k in own)
    # the same file given as a path
    m2, info2 = M.build_model(backbone, weights=str(torch_home / 'hub' / 'checkpoints' / w.url.rsplit('/', 1)[1]))
    assert info2['used'].startswith('file:') and all(torch.equal(a, b) for a, b in zip(m2.backbone.state_dict().values(), own.values()))
