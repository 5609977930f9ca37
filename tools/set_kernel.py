#!/usr/bin/env python
"""Name the project's kernel (`scoliosis-xray`, registered by `make lab`) in every notebook's metadata, so JupyterLab
opens each one on it without asking. Only the notebook-level `kernelspec` and `language_info.name` change; cells,
outputs and the rest of the metadata stay as they are. `--check` exits 1 when a notebook names another kernel.

Usage: python tools/set_kernel.py [--check] [NOTEBOOK ...]   (default: every notebook in nbs/)"""
import json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KERNEL = 'scoliosis-xray'
SPEC = {'display_name': KERNEL, 'language': 'python', 'name': KERNEL}   # nbdev-clean keeps kernelspec (display_name = name)

def main(args):
    check = '--check' in args
    paths = [Path(a) for a in args if a != '--check'] or sorted((ROOT / 'nbs').glob('*.ipynb'))
    wrong = []
    for p in paths:
        text = p.read_text(); nb = json.loads(text)
        if nb.get('metadata', {}).get('kernelspec') == SPEC: continue
        wrong.append(p.name)
        if check: continue
        nb.setdefault('metadata', {})['kernelspec'] = dict(SPEC)
        p.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    if check:
        if wrong: print(f'{len(wrong)} notebook(s) do not name the {KERNEL} kernel: {", ".join(wrong)} (run `make kernel-metadata`)'); sys.exit(1)
        print(f'every notebook names the {KERNEL} kernel')
    else: print(f'{KERNEL} kernel set in {len(wrong)} notebook(s)' + (f': {", ".join(wrong)}' if wrong else ''))

if __name__ == '__main__': main(sys.argv[1:])
