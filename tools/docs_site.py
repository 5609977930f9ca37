#!/usr/bin/env python
"""The docs site without Quarto (`make docs` where Quarto is missing; `make docs-check` checks what it builds).

It starts where `nbdev-docs` starts: nbdev's own processors (`nbdev.serve.proc_nbs`) turn each notebook into the
notebook Quarto would render (hidden and exported cells removed, `show_doc` added and run, the title cell turned into
YAML front matter). Then it does the part Quarto does, for the directives our notebooks use:
- front matter: `title` and `description` head the page, `output-file` names it (`10_synth.ipynb` -> `synth.html`);
- `#| include: false` drops a cell, `#| echo: false` its code, `#| output: false` its outputs, `#| code-fold` folds the
  code; `#|` lines are never shown; no In/Out prompts;
- `show_doc` output (markdown) becomes an API entry with an anchor (`synth.html#render`, as nbdev links it);
- figures are embedded in the page; images that markdown cells link to are copied next to the pages;
- `sidebar.yml` is the navigation (each entry by its page title), `nbdev.yml` gives the site title, `styles.css` is used;
- links to notebooks (`11_data.ipynb`) and to the published site's pages become links between the local pages.

Usage: python tools/docs_site.py [--out DIR]   (default _docs/; prints one line per page)"""
import argparse, base64, html, json, re, shutil, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / 'nbs'
ANSI = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')
DIRECTIVE = re.compile(r'^\s*#\|\s*([\w-]+)\s*:?\s*(.*?)\s*$')

def _src(c): return ''.join(c['source']) if isinstance(c['source'], list) else c['source']
def _join(v): return ''.join(v) if isinstance(v, list) else v

def page_name(nb_name, front=None):
    "The page a notebook becomes: its front matter's output-file, else the name without the number prefix."
    if front and front.get('output-file'): return front['output-file']
    return re.sub(r'^\d+_', '', nb_name).replace('.ipynb', '.html')

def front_matter(nb):
    "The YAML front matter nbdev put in the first raw cell (title, description, output-file, ...), or {}."
    import yaml
    for c in nb['cells']:
        if c['cell_type'] == 'raw' and _src(c).lstrip().startswith('---'):
            m = re.match(r'\s*---\n(.*?)\n---', _src(c), re.S)
            return (yaml.safe_load(m.group(1)) if m else None) or {}
        if c['cell_type'] != 'raw': break
    return {}

def directives(src):
    "({key: value} of the leading `#|` lines, the source without them)."
    d, lines = {}, src.splitlines()
    while lines and (m := DIRECTIVE.match(lines[0])):
        d[m.group(1).lower()] = m.group(2).strip().lower(); lines.pop(0)
    return d, '\n'.join(l for l in lines if not DIRECTIVE.match(l)).strip('\n')

def _md():
    from markdown_it import MarkdownIt
    md = MarkdownIt('commonmark', {'html': True}).enable('table').enable('strikethrough')
    try:
        from mdit_py_plugins.dollarmath import dollarmath_plugin   # math stays LaTeX text, set apart (no MathJax offline)
        md.use(dollarmath_plugin, renderer=lambda s, opts: f'<span class="math">{html.escape(s)}</span>' if not opts.get('display_mode')
               else f'<div class="math">{html.escape(s)}</div>')
    except ImportError: pass
    return md

MD = None
def markdown(text):
    global MD
    MD = MD or _md()
    return MD.render(text)

def slug(text):
    "Quarto's heading anchor: lower case, spaces to dashes, keeps dots and underscores (`Run.tb` -> `run.tb`)."
    t = re.sub(r'<[^>]+>', '', html.unescape(text)).strip().lower()
    return re.sub(r'[^\w.\-]+', '-', t).strip('-')

def _ids(body, seen):
    "Anchors on every heading; API entries (show_doc) first, so `plots.html#overlay` is the function, not a section."
    body = re.sub(r'<div class="api-entry">.*?</div>', lambda m: _heading_ids(m.group(0), seen), body, flags=re.S)
    return _heading_ids(body, seen)

def _heading_ids(body, seen):
    def add(m):
        lvl, attrs, inner = m.group(1), m.group(2), m.group(3)
        if 'id=' in attrs: return m.group(0)
        s = base = slug(inner) or 'section'; i = 1
        while s in seen: i += 1; s = f'{base}-{i}'
        seen.add(s)
        return f'<h{lvl}{attrs} id="{s}">{inner}</h{lvl}>'
    return re.sub(r'<h([1-6])([^>]*)>(.*?)</h\1>', add, body, flags=re.S)

def code_html(src, lang='python'):
    from pygments import highlight
    from pygments.lexers import get_lexer_by_name
    from pygments.formatters import HtmlFormatter
    try: lexer = get_lexer_by_name(lang)
    except Exception: lexer = get_lexer_by_name('text')
    return highlight(src, lexer, HtmlFormatter(cssclass='sourceCode highlight'))

def output_html(o):
    "One saved output as HTML: figures embedded, markdown rendered, tables as they are, text as preformatted text."
    t = o.get('output_type')
    if t == 'stream':
        cls = 'cell-output-stderr' if o.get('name') == 'stderr' else 'cell-output-stdout'
        return f'<div class="cell-output {cls}"><pre>{html.escape(ANSI.sub("", _join(o["text"])))}</pre></div>'
    if t == 'error':
        return f'<div class="cell-output cell-output-error"><pre>{html.escape(ANSI.sub("", chr(10).join(o.get("traceback", []))))}</pre></div>'
    data = o.get('data', {})
    if 'application/vnd.jupyter.widget-view+json' in data: return ''       # a live widget (a progress bar): nothing to show
    for mime in ('image/png', 'image/jpeg'):
        if mime in data:
            b64 = _join(data[mime]).replace('\n', '')
            return f'<div class="cell-output cell-output-display"><img src="data:{mime};base64,{b64}" alt="figure"></div>'
    if 'image/svg+xml' in data: return f'<div class="cell-output cell-output-display">{_join(data["image/svg+xml"])}</div>'
    if 'text/html' in data: return f'<div class="cell-output cell-output-display">{_join(data["text/html"])}</div>'
    if 'text/markdown' in data: return f'<div class="cell-output cell-output-markdown">{markdown(_join(data["text/markdown"]))}</div>'
    if 'text/plain' in data: return f'<div class="cell-output cell-output-display"><pre>{html.escape(ANSI.sub("", _join(data["text/plain"])))}</pre></div>'
    return ''

def cell_html(c):
    d, src = directives(_src(c))
    if c['cell_type'] == 'raw': return ''
    if c['cell_type'] == 'markdown':
        if src.strip().startswith('<!-- WARNING: THIS FILE WAS AUTOGENERATED'): return ''
        return f'<div class="cell-markdown">{markdown(src)}</div>'
    if d.get('include') == 'false' or 'hide' in d: return ''
    parts = []
    if d.get('echo') != 'false' and src.strip():
        code = code_html(src)
        parts.append(f'<details class="code-fold"><summary>Code</summary>{code}</details>' if d.get('code-fold') in ('true', 'show') else code)
    if d.get('output') != 'false':
        outs = [output_html(o) for o in c.get('outputs', [])]
        if any('show_doc' in l for l in src.splitlines()[:1]) or (d.get('output') == 'asis' and outs):
            outs = [f'<div class="api-entry">{o}</div>' for o in outs if o]
        parts += [o for o in outs if o]
    return f'<div class="cell">{"".join(parts)}</div>' if parts else ''

CSS = """
*{box-sizing:border-box} body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.55;color:#222}
header.navbar{background:#2780e3;color:#fff;padding:.55rem 1.2rem;display:flex;align-items:center;gap:.6rem;position:sticky;top:0;z-index:2}
header.navbar a{color:#fff;text-decoration:none;font-weight:600;font-size:1.15rem} header.navbar img{height:28px}
.layout{display:grid;grid-template-columns:250px minmax(0,1fr) 220px;gap:1.5rem;max-width:1500px;margin:0 auto}
nav.sidebar{padding:1rem .8rem;border-right:1px solid #eee;position:sticky;top:48px;align-self:start;max-height:calc(100vh - 48px);overflow:auto}
nav.sidebar ul{list-style:none;padding:0;margin:0} nav.sidebar li a{display:block;padding:.2rem .5rem;color:#333;text-decoration:none;border-radius:4px;font-size:.93rem}
nav.sidebar li a:hover{background:#f1f5fb} nav.sidebar li a.active{background:#e3eefc;color:#1a5fb4;font-weight:600}
main{padding:1rem 0 4rem;min-width:0} main h1.title{margin-bottom:.2rem}
nav.toc{padding:1rem .5rem;font-size:.86rem;position:sticky;top:48px;align-self:start;max-height:calc(100vh - 48px);overflow:auto}
nav.toc a{color:#555;text-decoration:none;display:block;padding:.1rem 0} nav.toc h2{font-size:.9rem;margin:.2rem 0 .5rem}
pre{overflow-x:auto;padding:.6rem .8rem;background:#f7f7f7;border-radius:4px;font-size:.85rem}
div.sourceCode{margin:0} div.sourceCode pre{background:#f8f9fa;border-left:3px solid #d0d7e2}
code{background:#f3f3f3;padding:0 .2rem;border-radius:3px;font-size:.9em} pre code{background:none;padding:0}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem} th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left} table.dataframe td{text-align:right}
th{background:#f5f5f5} img{max-width:100%} .math{font-family:"Latin Modern Math","STIX Two Math",serif;font-style:italic}
.api-entry{border-left:4px solid #2780e3;background:#fbfcfe;padding:.1rem 1rem .6rem;margin:1.2rem 0}
.api-entry hr{display:none} .api-entry h3{margin:.6rem 0 .3rem;font-family:monospace;font-size:1.1rem}
.cell-output-stderr pre{background:#fff4f0} details.code-fold summary{cursor:pointer;color:#555}
@media (max-width:1000px){.layout{grid-template-columns:1fr} nav.sidebar,nav.toc{position:static;max-height:none;border:0}}
"""

def page_html(site, title, desc, nav, toc, body, css_files):
    head = ''.join(f'<link rel="stylesheet" href="{c}">' for c in css_files)
    logo = f'<img src="{site["logo"]}" alt="">' if site.get('logo') else ''
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{html.escape(title)} – {html.escape(site["title"])}</title>'
            f'<meta name="description" content="{html.escape(desc or "")}">'
            + (f'<link rel="icon" href="{site["favicon"]}">' if site.get('favicon') else '') + head + '</head><body>'
            f'<header class="navbar">{logo}<a href="index.html">{html.escape(site["title"])}</a></header>'
            f'<div class="layout"><nav class="sidebar" aria-label="pages"><ul>{nav}</ul></nav>'
            f'<main><header class="page-header"><h1 class="title">{html.escape(title)}</h1>'
            + (f'<div class="description">{html.escape(desc)}</div>' if desc else '') + f'</header>{body}</main>'
            f'<nav class="toc" aria-label="on this page">{toc}</nav></div></body></html>\n')

def _local_links(body, pages, site_url):
    "Links to notebooks and to the published site's pages point at the local pages."
    def fix(m):
        attr, url = m.group(1), html.unescape(m.group(2))
        if site_url and url.startswith(site_url.rstrip('/') + '/'): url = url[len(site_url.rstrip('/')) + 1:]
        base, _, frag = url.partition('#')
        if base in pages: url = pages[base] + (f'#{frag}' if frag else '')
        return f'{attr}="{html.escape(url, quote=True)}"'
    return re.sub(r'(href)="([^"]*)"', fix, body)

def _copy_images(body, out):
    "Copy images that pages link by relative path (e.g. sprites/logo.png) from nbs/ into the site."
    for src in set(re.findall(r'<img[^>]+src="([^"]+)"', body)):
        if re.match(r'(data:|https?:|/)', src): continue
        f = (NBS / src)
        if f.is_file():
            (out / src).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(f.resolve(), out / src)

def build(out=ROOT / '_docs', quiet=False):
    "Build the site into `out`; returns [{notebook, page, title, description, figures}] in sidebar order."
    import os, yaml
    from nbdev.serve import proc_nbs
    out = Path(out)
    side = yaml.safe_load((NBS / 'sidebar.yml').read_text())['website']['sidebar']['contents']
    entries = [e if isinstance(e, str) else e.get('href') for e in side]
    quarto = yaml.safe_load((NBS / '_quarto.yml').read_text())
    nbdev_yml = yaml.safe_load((NBS / 'nbdev.yml').read_text())['website']
    cwd = os.getcwd(); os.chdir(ROOT)
    try: proc = Path(proc_nbs(n_workers=0))
    finally: os.chdir(cwd)
    if out.exists(): shutil.rmtree(out)
    out.mkdir(parents=True)
    web = quarto.get('website', {})
    site = dict(title=nbdev_yml.get('title', 'docs'), logo=web.get('navbar', {}).get('logo'), favicon=web.get('favicon'))
    site_url = nbdev_yml.get('site-url', '')
    nbs, info = {}, []
    for name in entries:
        nb = json.loads((proc / name).read_text()); fm = front_matter(nb)
        nbs[name] = (nb, fm); info.append(dict(notebook=name, page=page_name(name, fm), title=fm.get('title') or name, description=fm.get('description', '')))
    pages = {i['notebook']: i['page'] for i in info} | {i['page']: i['page'] for i in info}
    css = ['site.css'] + [c for c in ([quarto.get('format', {}).get('html', {}).get('css')] or []) if c and (NBS / c).is_file()]
    (out / 'site.css').write_text(CSS + '\n' + _pygments_css())
    for c in css[1:]: shutil.copy2(NBS / c, out / c)
    for f in (site.get('logo'), site.get('favicon')):
        if f and (NBS / f).is_file(): (out / f).parent.mkdir(parents=True, exist_ok=True); shutil.copy2((NBS / f).resolve(), out / f)
    for i in info:
        nb, fm = nbs[i['notebook']]
        seen = set()
        body = _ids(''.join(cell_html(c) for c in nb['cells']), seen)
        body = _local_links(body, pages, site_url)
        toc = ''.join(f'<a href="#{m.group(1)}">{re.sub(r"<[^>]+>", "", m.group(2))}</a>' for m in re.finditer(r'<h2[^>]* id="([^"]+)">(.*?)</h2>', body, re.S))
        toc = f'<h2>On this page</h2>{toc}' if toc else ''
        nav = ''.join(f'<li><a href="{j["page"]}"' + (' class="active" aria-current="page"' if j is i else '') + f'>{html.escape(j["title"])}</a></li>' for j in info)
        (out / i['page']).write_text(page_html(site, i['title'], i['description'], nav, toc, body, css))
        _copy_images(body, out)
        i['figures'] = len(re.findall(r'<img[^>]+src="data:image/', body)) + body.count('<svg')
        if not quiet: print(f'{out.name}/{i["page"]:<16} {i["title"]} ({i["figures"]} figure(s))')
    return info

def _pygments_css():
    from pygments.formatters import HtmlFormatter
    return HtmlFormatter(style='default').get_style_defs('.highlight')

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default=str(ROOT / '_docs'), help='folder to write the site to (replaced; default _docs/)')
    a = ap.parse_args()
    info = build(a.out)
    print(f'docs: {len(info)} pages in {a.out}; open {Path(a.out) / "index.html"}')

if __name__ == '__main__': main()
