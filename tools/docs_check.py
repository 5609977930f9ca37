#!/usr/bin/env python
"""`make docs-check`: build the docs site without Quarto (tools/docs_site.py: it honours the directives Quarto does)
and check it in Chromium, as a reader sees it.

1. The Quarto config is sound: `_quarto.yml`, `nbdev.yml` and `sidebar.yml` parse; `nbdev.yml` is what nbdev would
   generate from pyproject.toml; the sidebar lists every notebook and nothing else.
2. The site is built into `_docs_check/` from nbdev's processed notebooks (their *saved outputs*; nothing is executed
   but `show_doc`).
3. Each page carries its notebook's title (the front matter, not shown as text), embeds every figure its shown cells
   saved (at least one per numbered stage notebook), resolves its notebooks' image links, and has an API entry
   (`show_doc`) with an anchor for every public function or class its module exports.
4. In headless Chromium (skipped, with the reason, where it is missing): no `#|` directive text, no In/Out prompts and
   no raw front matter on any page; every image has loaded; every sidebar link opens a page of the site."""
import importlib, json, os, re, shutil, sys
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

def _shown_images(nb):
    "Image outputs of the cells the site shows (not `#| include: false` / `#| output: false`)."
    from docs_site import directives
    n = 0
    for c in nb['cells']:
        if c['cell_type'] != 'code': continue
        d, _ = directives(''.join(c['source']))
        if d.get('include') == 'false' or d.get('output') == 'false' or 'hide' in d: continue
        n += sum(1 for o in c.get('outputs', []) for k in o.get('data', {}) if k in ('image/png', 'image/jpeg', 'image/svg+xml'))
    return n

def check_pages(info):
    "What the processed notebooks and the source notebooks promise, against the written pages."
    from docs_site import page_name, slug
    for i in info:
        name, page = i['notebook'], OUT / i['page']
        src = json.loads((ROOT / 'nbs' / name).read_text())
        title = _title(src)
        if not title: bad(f'{name}: no "# Title" markdown cell'); continue
        if not page.exists() or page.stat().st_size < 1000: bad(f'{name}: page {page.name} not written'); continue
        html = page.read_text()
        if i['title'] != title: bad(f'{name}: page title is "{i["title"]}", the notebook says "{title}"')
        if f'<h1 class="title">' not in html: bad(f'{name}: no title heading')
        n_img = _shown_images(json.loads((PROC / name).read_text()))
        if i['figures'] < n_img: bad(f'{name}: {n_img} figures saved in shown cells but {i["figures"]} embedded')
        if re.match(r'(1[0-9]|2[0-9])_', name) and n_img == 0: bad(f'{name}: a stage notebook with no saved figure (run `make notebooks`)')
        for link in re.findall(r'!\[[^\]]*\]\(([^)\s]+)', ''.join(''.join(c['source']) for c in src['cells'] if c['cell_type'] == 'markdown')):
            if not re.match(r'https?:', link) and not (ROOT / 'nbs' / link).exists(): bad(f'{name}: image link {link} does not resolve')
        m = re.search(r'^#\|\s*default_exp\s+(\S+)', '\n'.join(''.join(c['source']) for c in src['cells']), re.M)
        if m:
            mod = importlib.import_module(f'scoliosis_xray.{m.group(1)}')
            public = [n for n in getattr(mod, '__all__', []) if callable(getattr(mod, n)) and not isinstance(getattr(mod, n), type(json))
                      and getattr(getattr(mod, n), '__module__', '') == mod.__name__]
            entries = set(re.findall(r'<h3[^>]* id="([^"]+)"', ''.join(re.findall(r'<div class="api-entry">(.*?)</div>', html, re.S))))
            missing = [n for n in public if slug(n) not in entries]
            if missing: bad(f'{name}: no API entry (show_doc) for public {", ".join(missing)}')
        print(f'page {page.relative_to(ROOT)}: "{title}", {i["figures"]} figure(s)')

BROWSER_JS = """() => {
  const text = document.body.innerText;
  const imgs = [...document.images].map(i => [i.getAttribute('src').slice(0, 60), i.complete && i.naturalWidth > 0]);
  const side = [...document.querySelectorAll('nav.sidebar a')].map(a => a.getAttribute('href'));
  return {text, imgs, side, title: document.querySelector('h1.title')?.innerText,
          prompts: document.querySelectorAll('.jp-InputPrompt, .jp-OutputPrompt, .prompt, .input_prompt').length};
}"""

def check_browser(info):
    "Every page as Chromium shows it: no directives, prompts or raw front matter; images loaded; sidebar links resolve."
    sys.path.insert(0, str(ROOT / 'tools')); import browser
    if why := browser.why_not(): print(f'browser check skipped: {why}'); return
    pages = {i['page'] for i in info}
    with browser.browser() as b:
        page = b.new_page(viewport={'width': 1280, 'height': 900})
        for i in info:
            where = f'{i["page"]} in Chromium'
            try: page.goto((OUT / i['page']).as_uri(), wait_until='load')
            except Exception as e: bad(f'{where}: does not open ({str(e).splitlines()[0]})'); continue
            r = page.evaluate(BROWSER_JS)
            leaked = [l for l in r['text'].splitlines() if re.match(r'\s*#\|', l)]       # a directive line (prose may name one)
            if leaked: bad(f'{where}: shows directive text: {leaked[0][:80]}')
            if r['prompts'] or re.search(r'^\s*(In|Out)\s*\[[\d ]*\]:', r['text'], re.M): bad(f'{where}: shows In/Out prompts')
            if re.search(r'^(---|title:|output-file:|description:)', r['text'], re.M): bad(f'{where}: shows raw front matter')
            if (r['title'] or '').strip() != i['title']: bad(f'{where}: the page heading is {r["title"]!r}, not {i["title"]!r}')
            broken = [s for s, ok in r['imgs'] if not ok]
            if broken: bad(f'{where}: {len(broken)} of {len(r["imgs"])} image(s) did not load: {broken[:3]}')
            wrong = [h for h in r['side'] if h.split('#')[0] not in pages or not (OUT / h.split('#')[0]).is_file()]
            if wrong or len(r['side']) != len(info): bad(f'{where}: sidebar links {wrong or r["side"]} do not resolve to the site\'s pages')
        for i in info:                                                # and the links work when clicked
            try:
                page.goto((OUT / 'index.html').as_uri()); page.click(f'nav.sidebar a[href="{i["page"]}"]', timeout=10_000); page.wait_for_load_state()
                ok = page.locator('h1.title').inner_text(timeout=10_000).strip() == i['title']
            except Exception: ok = False
            if not ok: bad(f'sidebar link {i["page"]} does not open its page (at {page.url})')
    print(f'browser: {len(info)} pages checked in Chromium')

def main():
    global PROC
    pages = check_config()
    sys.path.insert(0, str(ROOT / 'tools'))
    import docs_site
    info = docs_site.build(OUT, quiet=True)
    PROC = ROOT / '_proc'
    if sorted(i['notebook'] for i in info) != pages: bad(f'the site has pages {[i["notebook"] for i in info]}, nbs/ holds {pages}')
    check_pages(info)
    check_browser(info)
    if problems:
        print(f'docs-check: {len(problems)} problem(s)'); sys.exit(1)
    print(f'docs-check: {len(info)} pages ok, written to {OUT.relative_to(ROOT)}/ (open {OUT.relative_to(ROOT)}/index.html)')

if __name__ == '__main__': main()
