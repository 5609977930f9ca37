#!/usr/bin/env python
"""Write README.md from nbs/index.ipynb (nbdev's own `nbdev-readme` needs Quarto, which can't be installed offline).

Markdown cells are copied as they are; code cells become ```python blocks followed by their saved text output;
cells marked `#| hide` are left out and `#|` directive lines dropped. Image links are relative to the repository root
(nbs/sprites is a link to ../sprites, so the same paths work in the notebook, the docs and the README).
`--check` exits 1 when README.md differs from what it would write."""
import json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = '<!-- This file is generated from nbs/index.ipynb by tools/readme.py (make readme). Do not edit it. -->\n\n'

def _src(cell): return ''.join(cell['source']) if isinstance(cell['source'], list) else cell['source']

def _text(out):
    if out.get('output_type') == 'stream': return ''.join(out['text'])
    data = out.get('data', {})
    if 'text/markdown' in data: return None
    if 'text/plain' in data: return ''.join(data['text/plain'])
    return ''

def render(nb_path=ROOT / 'nbs' / 'index.ipynb'):
    nb = json.loads(Path(nb_path).read_text())
    parts = []
    for cell in nb['cells']:
        src = _src(cell)
        lines = src.splitlines()
        directives = [l for l in lines if l.startswith('#|')]
        if any(l.replace(' ', '').startswith('#|hide') for l in directives): continue
        body = '\n'.join(l for l in lines if not l.startswith('#|')).strip('\n')
        if cell['cell_type'] == 'markdown':
            parts.append(body)
        elif cell['cell_type'] == 'code' and body:
            parts.append(f'```python\n{body}\n```')
            for out in cell.get('outputs', []):
                t = _text(out)
                if t is None: parts.append(''.join(out['data']['text/markdown']).strip())
                elif t.strip(): parts.append('```\n' + t.rstrip('\n') + '\n```')
    return HEADER + '\n\n'.join(p for p in parts if p) + '\n'

def main():
    txt = render(); readme = ROOT / 'README.md'
    if '--check' in sys.argv:
        if not readme.exists() or readme.read_text() != txt:
            print('README.md is out of date with nbs/index.ipynb: run `make readme` (or python tools/readme.py) and commit.')
            sys.exit(1)
        print('README.md matches nbs/index.ipynb')
    else:
        readme.write_text(txt); print(f'wrote {readme}')

if __name__ == '__main__': main()
