#!/usr/bin/env python
"""Everything `make test` runs, in order, with a closing line that counts what passed and failed.

Steps: the lock is complete (every installed package of `.[dev]` pinned in constraints.txt, tools/check_lock.py); the exported package and the cleaned notebooks are in sync with the notebooks (checked in a scratch copy, so the
working tree is never touched); README.md matches nbs/index.ipynb; every notebook runs as a test (`nbdev-test`); the
integration tests under tests/ (pytest, including the browser tests of JupyterLab and TensorBoard in tests/test_browser.py);
the docs check (`make docs-check`: the offline docs site, checked in Chromium)."""
import argparse, os, re, shutil, subprocess, sys, tempfile, time, xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

def run(cmd, **kw):
    print(f'$ {" ".join(map(str, cmd))}', flush=True)
    return subprocess.run(list(map(str, cmd)), cwd=kw.pop('cwd', ROOT), **kw)

def check_sync():
    "nbdev-export and nbdev-clean on a scratch copy of the tree must change nothing."
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        for item in ['pyproject.toml', 'nbs', 'scoliosis_xray']:
            src = ROOT / item
            if src.is_dir(): shutil.copytree(src, d / item, symlinks=True, ignore=shutil.ignore_patterns('__pycache__', '.ipynb_checkpoints'))
            else: shutil.copy2(src, d / item)
        before = {p.relative_to(d): p.read_bytes() for p in sorted(d.rglob('*')) if p.is_file() and not p.is_symlink()}
        for cmd in ('nbdev-export', 'nbdev-clean'):
            r = run([BIN / cmd], cwd=d, capture_output=True, text=True)
            if r.returncode: print(r.stdout, r.stderr); return False, f'{cmd} failed'
        after = {p.relative_to(d): p.read_bytes() for p in sorted(d.rglob('*')) if p.is_file() and not p.is_symlink()}
        changed = sorted(str(k) for k in set(before) | set(after) if before.get(k) != after.get(k))
        if changed:
            print('Out of sync (run `make export` and commit):\n  ' + '\n  '.join(changed))
            return False, f'{len(changed)} file(s) out of sync'
    return True, 'package and notebooks in sync'

def notebooks(flags):
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '1'), MPLBACKEND='Agg')
    nbs = sorted(p.name for p in (ROOT / 'nbs').glob('*.ipynb'))
    # a worker per core and one more, as for pytest (199 s instead of 225 s on 2 cores)
    cmd = [BIN / 'nbdev-test', '--do-print', '--timing', '--n-workers', str((os.cpu_count() or 1) + 1)] + (['--flags', flags] if flags else [])
    r = run(cmd, env=env, capture_output=True, text=True)
    sys.stdout.write(r.stdout); sys.stderr.write(r.stderr)
    failed = []
    if 'Failed On The Following Notebooks' in r.stderr:
        failed = [l.strip() for l in r.stderr.split('Failed On The Following Notebooks:')[1].splitlines() if l.strip().endswith('.ipynb')]
    if r.returncode and not failed: failed = ['(nbdev-test failed before reporting)']
    return len(nbs) - len(failed), len(failed), failed

def pytest_step():
    if not any((ROOT / 'tests').glob('test_*.py')): return 0, 0, 0, []
    xml = Path(tempfile.mkdtemp()) / 'junit.xml'
    # a worker per core and one more (tests that wait on terraform, moto or a browser leave a core idle: 466 s instead of
    # 503 s on 2 cores), a file per worker (a file's module fixtures, such as a trained run, are built once)
    r = run([BIN / 'python', '-m', 'pytest', 'tests', '-q', '-rfEs', '-p', 'no:cacheprovider', '-n', str((os.cpu_count() or 1) + 1), '--dist', 'loadfile',
             f'--junitxml={xml}'])
    if not xml.exists(): return 0, 1, 0, ['pytest did not run']
    s = ET.parse(xml).getroot()
    s = s if s.tag == 'testsuite' else s.find('testsuite')
    tests, fails, errs, skips = (int(s.get(k, 0)) for k in ('tests', 'failures', 'errors', 'skipped'))
    failed = [f"{c.get('classname')}::{c.get('name')}" for c in s.iter('testcase') if c.find('failure') is not None or c.find('error') is not None]
    return tests - fails - errs - skips, fails + errs, skips, failed

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--flags', default='', help='nbdev-test flags to run, e.g. "slow"')
    a = ap.parse_args()
    t0 = time.time(); passed = failed = skipped = 0; problems = []; lines = []
    def record(name, ok_n, bad_n, skip_n=0, detail=''):
        nonlocal passed, failed, skipped
        passed += ok_n; failed += bad_n; skipped += skip_n
        lines.append(f'  {name:<12} {ok_n:4d} passed {bad_n:4d} failed' + (f' {skip_n:3d} skipped' if skip_n else '') + (f'  {detail}' if detail else ''))
    lock = lambda: (run([BIN / 'python', 'tools/check_lock.py']).returncode == 0, 'the lock (constraints.txt) is complete and current')
    for name, fn in [('lock', lock), ('sync', check_sync), ('readme', lambda: (run([BIN / 'python', 'tools/readme.py', '--check']).returncode == 0, 'README.md matches nbs/index.ipynb'))]:
        t = time.time(); ok, msg = fn()
        record(name, int(ok), int(not ok), detail=f'{msg} ({time.time() - t:.0f}s)')
        if not ok: problems.append(f'{name}: {msg}')
    t = time.time(); ok_n, bad_n, bad = notebooks(a.flags)
    record('notebooks', ok_n, bad_n, detail=f'nbdev-test{" --flags " + a.flags if a.flags else ""} ({time.time() - t:.0f}s)')
    problems += [f'notebook {b}' for b in bad]
    t = time.time(); ok_n, bad_n, skip_n, bad = pytest_step()
    record('pytest', ok_n, bad_n, skip_n, detail=f'tests/ ({time.time() - t:.0f}s)')
    problems += [f'pytest {b}' for b in bad]
    t = time.time(); r = run([BIN / 'python', 'tools/docs_check.py'])
    record('docs-check', int(r.returncode == 0), int(r.returncode != 0), detail=f'({time.time() - t:.0f}s)')
    if r.returncode: problems.append('docs-check')
    print('\n== make test summary ==')
    print('\n'.join(lines))
    if problems: print('Failed: ' + '; '.join(problems))
    print(f'== make test: {passed} passed, {failed} failed, {skipped} skipped in {time.time() - t0:.0f}s ==')
    sys.exit(1 if failed else 0)

if __name__ == '__main__': main()
