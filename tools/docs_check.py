#!/usr/bin/env python
"""`make docs-check`: build the docs pages without Quarto (it cannot be installed offline) and check each one.

1. The Quarto config is sound: `_quarto.yml`, `nbdev.yml` and `sidebar.yml` parse; `nbdev.yml` is what nbdev would
   generate from pyproject.toml; the sidebar lists every notebook and nothing else.
2. nbdev's own doc processors run on every notebook (`nbdev.serve.proc_nbs`, the step `nbdev-docs` runs before Quarto),
   then nbconvert renders each processed notebook's *saved outputs* to HTML under `_docs_check/` (nothing is executed).
3. Each page exists, carries its notebook's title, embeds every figure the notebook saved (as many images as the
   notebook has image outputs, at least one per numbered stage notebook), resolves its local image links, and shows
   the documentation (`show_doc`) of every public function or class its module exports."""
import importlib, json, os, re, shutil, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / '_docs_check'
problems = []

def bad(msg): problems.append(msg); print('  FAIL ' + msg)

def check_config():
    import yaml
    from nbdev.config import get_config
    cfg = get_config(ROOT)
    nbs = ROOT / 'nbs'
    for f in ['_quarto.yml', 'nbdev.yml', 'sidebar.yml']:
        if not (nbs / f).exists(): bad(f'nbs/{f} is missing'); continue
        try: yaml.safe_load((nbs / f).read_text())
        except Exception as e: bad(f'nbs/{f} does not parse: {e}')
    q = yaml.safe_load((nbs / '_quarto.yml').read_text())
    if set(q.get('metadata-files', [])) != {'nbdev.yml', 'sidebar.yml'}: bad('_quarto.yml must load nbdev.yml and sidebar.yml')
    from nbdev.quarto import _nbdev_yml
    vals = {k: cfg[k] for k in ['title', 'description', 'branch', 'git_url', 'doc_host', 'doc_baseurl']}
    vals['doc_path'] = cfg.doc_path.name
    if (nbs / 'nbdev.yml').read_text() != _nbdev_yml.format(**vals): bad('nbs/nbdev.yml differs from what nbdev generates from pyproject.toml')
    side = yaml.safe_load((nbs / 'sidebar.yml').read_text())
    listed = [c if isinstance(c, str) else c.get('href') for c in side['website']['sidebar']['contents']]
    have = sorted(p.name for p in nbs.glob('*.ipynb'))
    if sorted(listed) != have: bad(f'sidebar.yml lists {sorted(listed)} but nbs/ holds {have}')
    print(f'config: _quarto.yml, nbdev.yml, sidebar.yml ok ({len(have)} pages)')
    return have

def _title(nb):
    for c in nb['cells']:
        if c['cell_type'] == 'markdown':
            m = re.search(r'^#\s+(.+)$', ''.join(c['source']), re.M)
            if m: return m.group(1).strip()
    return None

def _n_images(nb):
    n = 0
    for c in nb['cells']:
        for o in c.get('outputs', []):
            n += sum(1 for k in o.get('data', {}) if k in ('image/png', 'image/jpeg', 'image/svg+xml'))
    return n

def main():
    from nbconvert import HTMLExporter
    import nbformat
    pages = check_config()
    os.chdir(ROOT)
    from nbdev.serve import proc_nbs
    cache = proc_nbs(n_workers=0)
    if OUT.exists(): shutil.rmtree(OUT)
    OUT.mkdir()
    exp = HTMLExporter(template_name='lab')
    for name in pages:
        src = json.loads((ROOT / 'nbs' / name).read_text())
        proc = cache / name
        if not proc.exists(): bad(f'{name}: nbdev did not process it'); continue
        raw = json.loads(proc.read_text())
        for c in raw['cells']: c.pop('has_sd', None); c.get('metadata', {}).pop('execution', None)
        nb = nbformat.reads(json.dumps(raw), as_version=4)
        title = _title(src)
        if not title: bad(f'{name}: no "# Title" markdown cell'); continue
        body, _ = exp.from_notebook_node(nb, resources={'metadata': {'name': title}})
        page = OUT / name.replace('.ipynb', '.html'); page.write_text(body)
        if not page.exists() or page.stat().st_size < 1000: bad(f'{name}: page not written'); continue
        html = page.read_text()
        if f'<title>{title}</title>' not in html.replace('&#39;', "'") and f'<title>{title}' not in html: bad(f'{name}: page title is not "{title}"')
        if title not in html: bad(f'{name}: title "{title}" not shown on the page')
        n_img, n_emb = _n_images(nb), len(re.findall(r'<img[^>]+src="data:image/(png|jpeg)', html)) + html.count('<svg')
        if n_emb < n_img: bad(f'{name}: {n_img} figures saved but {n_emb} embedded')
        if re.match(r'(1[0-8]|2[0-9])_', name) and n_img == 0: bad(f'{name}: a stage notebook with no saved figure (run `make notebooks`)')
        for link in re.findall(r'!\[[^\]]*\]\(([^)\s]+)', ''.join(''.join(c['source']) for c in src['cells'] if c['cell_type'] == 'markdown')):
            if not re.match(r'https?:', link) and not (ROOT / 'nbs' / link).exists(): bad(f'{name}: image link {link} does not resolve')
        m = re.search(r'^#\|\s*default_exp\s+(\S+)', '\n'.join(''.join(c['source']) for c in src['cells']), re.M)
        if m:
            mod = importlib.import_module(f'scoliosis_xray.{m.group(1)}')
            shown = set(re.findall(r'show_doc\((\w+)', ''.join(''.join(c['source']) for c in src['cells'] if c['cell_type'] == 'code')))
            public = [n for n in getattr(mod, '__all__', []) if callable(getattr(mod, n)) and not isinstance(getattr(mod, n), type(json))
                      and getattr(getattr(mod, n), '__module__', '') == mod.__name__]
            missing = [n for n in public if n not in shown]
            if missing: bad(f'{name}: no show_doc for public {", ".join(missing)}')
        print(f'page {page.relative_to(ROOT)}: "{title}", {n_emb} figure(s)')
    if problems:
        print(f'docs-check: {len(problems)} problem(s)'); sys.exit(1)
    print(f'docs-check: {len(pages)} pages ok, written to {OUT.relative_to(ROOT)}/')

if __name__ == '__main__': main()
