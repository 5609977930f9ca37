#!/usr/bin/env python
"""Execute notebooks in place so their saved outputs (figures, tables, printed numbers) are current.

Usage: python tools/run_notebooks.py [NOTEBOOK ...]   (default: every notebook in nbs/)
Runs with IN_TEST unset, so notebooks do their full-size work (slow cells included); run `nbdev-clean` afterwards
(`make notebooks` does both). A notebook that fails is left unchanged and the script exits 1."""
import sys, time
from pathlib import Path
import nbformat
from nbconvert.preprocessors import ExecutePreprocessor

ROOT = Path(__file__).resolve().parent.parent

def kernel():
    "The project's kernel (`scoliosis-xray`, which every notebook names) when registered (`make lab`), else python3."
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    try: KernelSpecManager().get_kernel_spec('scoliosis-xray'); return 'scoliosis-xray'
    except NoSuchKernel: return 'python3'

def main(args):
    nbs = [Path(a) for a in args] or sorted((ROOT / 'nbs').glob('*.ipynb'))
    bad = 0
    for p in nbs:
        p = p if p.is_absolute() else (Path.cwd() / p)
        t = time.time(); print(f'executing {p.name} ...', flush=True)
        nb = nbformat.read(p, as_version=4)
        try:
            ExecutePreprocessor(timeout=3600, kernel_name=kernel()).preprocess(nb, {'metadata': {'path': str(p.parent)}})
        except Exception as e:
            print(f'  FAILED: {str(e)[-3000:]}'); bad += 1; continue
        nbformat.write(nb, p); print(f'  ok ({time.time() - t:.0f}s)')
    sys.exit(1 if bad else 0)

if __name__ == '__main__': main(sys.argv[1:])
