#!/usr/bin/env python
"""Saved notebook outputs are documentation: drop warnings that tell readers about our machines (tqdm's IProgress
notice) and write temporary folders, the home folder and the checkout as neutral placeholders. Run by `make notebooks`
after the notebooks are executed; `--check` exits 1 if anything would change."""
import json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULES = [(re.compile(r'/tmp/(?:tmp|sx-[a-z]+-|pytest-of-\w+/pytest-\d+/)[\w.-]*'), 'SCRATCH'),
         (re.compile(re.escape(str(ROOT))), 'CHECKOUT'), (re.compile(r'/(?:root|home/\w+)/'), '~/')]
DROP = re.compile(r'TqdmWarning|IProgress not found')

def scrub_text(t:str)->str:
    for rx, rep in RULES: t = rx.sub(rep, t)
    return t

def scrub(nb:dict)->bool:
    changed = False
    for c in nb['cells']:
        keep = []
        for o in c.get('outputs', []):
            if o.get('output_type') == 'stream' and DROP.search(''.join(o.get('text', ''))):
                changed = True
                continue
            for k in ('text',):
                if k in o:
                    new = scrub_text(''.join(o[k]))
                    if new != ''.join(o[k]): o[k], changed = new.splitlines(keepends=True), True
            d = o.get('data', {})
            for k in ('text/plain', 'text/html', 'text/markdown'):
                if k in d:
                    new = scrub_text(''.join(d[k]))
                    if new != ''.join(d[k]): d[k], changed = new.splitlines(keepends=True), True
            keep.append(o)
        if 'outputs' in c: c['outputs'] = keep
    return changed

def main():
    check = '--check' in sys.argv
    dirty = []
    for p in sorted((ROOT / 'nbs').glob('*.ipynb')):
        nb = json.loads(p.read_text())
        if scrub(nb):
            dirty.append(p.name)
            if not check: p.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n')
    print(('would scrub: ' if check else 'scrubbed: ') + (', '.join(dirty) or 'nothing'))
    sys.exit(1 if check and dirty else 0)

if __name__ == '__main__': main()
