"""The lock (constraints.txt, written by `make lock`) and its checker, tools/check_lock.py."""
import subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECK = [sys.executable, str(ROOT / 'tools' / 'check_lock.py')]
sys.path.insert(0, str(ROOT / 'tools'))
import check_lock

def test_lock_is_complete_here():
    r = subprocess.run(CHECK, capture_output=True, text=True)
    assert r.returncode == 0 and 'complete and current' in r.stdout, r.stdout + r.stderr

def test_lock_pins_every_requirement_exactly():
    pins = check_lock.read_pins(ROOT / 'constraints.txt')
    assert {'torch', 'torchvision', 'moto', 'tensorboard', 'nbdev', 'uv'} <= set(pins)
    assert pins['torch'] == {'2.14.1'} and pins['torchvision'] == {'0.29.1'}
    assert '5.2.6' not in pins['moto'], 'moto 5.2.6 denies every S3 listing (see pyproject.toml)'

def test_check_finds_a_missing_or_moved_pin(tmp_path):
    lines = (ROOT / 'constraints.txt').read_text().splitlines()
    bad = tmp_path / 'lock.txt'
    kept = [l for l in lines if not l.startswith('tqdm==')]
    kept = [('moto==0.0.1' if l.startswith('moto==') else l) for l in kept]
    bad.write_text('\n'.join(kept) + '\n')
    r = subprocess.run(CHECK + ['--lock', str(bad)], capture_output=True, text=True)
    assert r.returncode == 1, r.stdout
    assert 'tqdm==' in r.stdout and 'not in lock.txt' in r.stdout, r.stdout      # installed but not locked
    assert "pins ['0.0.1']" in r.stdout and 'asks for moto' in r.stdout, r.stdout  # drifted, and below pyproject's range

def test_check_refuses_a_range(tmp_path):
    bad = tmp_path / 'lock.txt'
    bad.write_text('numpy>=1.24\n')
    r = subprocess.run(CHECK + ['--lock', str(bad), '--static'], capture_output=True, text=True)
    assert r.returncode != 0 and 'not an exact pin' in (r.stdout + r.stderr)

def test_local_build_label_is_the_same_release():
    assert check_lock._same('2.14.1+cpu', '2.14.1') and not check_lock._same('2.14.0', '2.14.1')
