#!/usr/bin/env python
"""The lock (constraints.txt) is complete and current: `make test` runs this before anything else.

- static (always): every line of the lock is an exact pin; the lock holds the torch pair of constraints.in; every
  requirement pyproject.toml states (dependencies and every extra) is met by a pinned version; the TensorBoard image
  (deploy/tensorboard/requirements.txt) pins exactly the lock's versions.
- installed (unless --static): the packages `scoliosis-xray[dev]` resolved to in this environment, followed through
  every requirement, are all in the lock at the same version. A package outside the lock means a fresh install would
  resolve something nobody tested: run `make lock` and commit the result after `make test` passed.

Exit 0 when all holds, 1 with one line a problem otherwise."""
import argparse, re, sys, tomllib
from importlib import metadata
from pathlib import Path
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PROJECT = 'scoliosis-xray'

def read_pins(path: Path, env: dict | None = None) -> dict[str, str]:
    "name -> version of every `name==version` line of a requirements file whose marker holds in `env` (None: all)."
    pins = {}
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split('#', 1)[0].strip()
        if not line or line.startswith('-'): continue
        req = Requirement(line)
        spec = list(req.specifier)
        if len(spec) != 1 or spec[0].operator != '==' or '*' in spec[0].version:
            raise SystemExit(f'{path.name}:{n}: not an exact pin: {raw.strip()}')
        if env is not None and req.marker is not None and not req.marker.evaluate(env): continue
        pins.setdefault(canonicalize_name(req.name), set()).add(spec[0].version)
    return pins

def _same(installed: str, pinned: str) -> bool:
    "2.14.1+cpu (the PyTorch index's CPU build) is the release 2.14.1."
    return Version(installed).public == Version(pinned).public

def static_problems(lock: Path) -> list[str]:
    problems = []
    pins = read_pins(lock)
    for name, versions in read_pins(ROOT / 'constraints.in').items():
        if pins.get(name) != versions: problems.append(f'{lock.name} pins {name} {pins.get(name)}, constraints.in says {versions}')
    meta = tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']
    reqs = list(meta['dependencies']) + [r for extra in meta['optional-dependencies'].values() for r in extra]
    for r in map(Requirement, reqs):
        name = canonicalize_name(r.name)
        if name == PROJECT: continue
        got = pins.get(name, set())
        if not any(r.specifier.contains(v, prereleases=True) for v in got):
            problems.append(f'pyproject.toml asks for {r} but {lock.name} pins {sorted(got) or "nothing"}: run make lock')
    image = ROOT / 'deploy' / 'tensorboard' / 'requirements.txt'
    for name, versions in read_pins(image).items():
        if not versions <= pins.get(name, set()):
            problems.append(f'{image.relative_to(ROOT)} pins {name} {sorted(versions)}, the lock {sorted(pins.get(name, []))}: run make lock')
    return problems

def closure(root: str, extras: set[str], env: dict) -> dict[str, str]:
    "name -> installed version of `root[extras]` and everything its requirements pull in this environment."
    seen, todo = {}, [(root, frozenset(extras))]
    done = set()
    while todo:
        name, ex = todo.pop()
        if (name, ex) in done: continue
        done.add((name, ex))
        try: dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            seen[canonicalize_name(name)] = None; continue
        seen[canonicalize_name(name)] = dist.version
        for line in dist.requires or []:
            r = Requirement(line)
            if r.marker is not None and not any(r.marker.evaluate({**env, 'extra': e}) for e in (ex or {''})): continue
            todo.append((r.name, frozenset(r.extras)))
    return seen

def installed_problems(lock: Path) -> list[str]:
    env = default_environment()
    pins = read_pins(lock, env)
    problems = []
    for name, version in sorted(closure(PROJECT, {'dev'}, env).items()):
        if name == PROJECT: continue
        if version is None: problems.append(f'{name} is required but not installed: pip install -c constraints.txt -e ".[dev]"')
        elif name not in pins: problems.append(f'{name}=={version} is installed but not in {lock.name}: the lock is incomplete, run make lock')
        elif not any(_same(version, v) for v in pins[name]):
            problems.append(f'{name}=={version} is installed, {lock.name} pins {sorted(pins[name])}: reinstall (rm -r .venv) or run make lock')
    return problems

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--lock', type=Path, default=ROOT / 'constraints.txt', help='the lock file (default: constraints.txt)')
    ap.add_argument('--static', action='store_true', help='check the files only, not this environment')
    a = ap.parse_args(argv)
    problems = static_problems(a.lock) + ([] if a.static else installed_problems(a.lock))
    for p in problems: print(p)
    n = len(read_pins(a.lock))
    print(f'lock: {n} packages pinned; ' + (f'{len(problems)} problem(s)' if problems else 'complete and current'))
    return 1 if problems else 0

if __name__ == '__main__':
    sys.exit(main())
