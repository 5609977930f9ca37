#!/usr/bin/env python
"""The package's shape in figures: lines per module, the longest functions, private names imported across modules,
and the module import graph (which must flow one way). `python tools/structure.py [--json]`."""
import ast, json, sys
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / 'scoliosis_xray'

def modules():
    return {p.stem: p for p in sorted(PKG.glob('*.py')) if not p.name.startswith('_')}

def functions(mods):
    out = []
    for name, p in mods.items():
        for n in ast.walk(ast.parse(p.read_text())):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.append((n.end_lineno - n.lineno + 1, f'{name}.{n.name}'))
    return sorted(out, reverse=True)

def imports(mods):
    "(importer, imported module, name) for every `from .x import y` and `from scoliosis_xray.x import y`, anywhere."
    out = []
    for name, p in mods.items():
        for n in ast.walk(ast.parse(p.read_text())):
            if isinstance(n, ast.ImportFrom):
                mod = (n.module or '').replace('scoliosis_xray.', '').replace('scoliosis_xray', '')
                if n.level == 0 and not (n.module or '').startswith('scoliosis_xray'): continue
                if not mod:
                    for a in n.names: out.append((name, a.name, None))
                else:
                    for a in n.names: out.append((name, mod, a.name))
    return out

def main():
    mods = modules()
    lines = {k: len(p.read_text().splitlines()) for k, p in mods.items()}
    fns = functions(mods)
    imps = imports(mods)
    private = sorted({f'{a} <- {b}.{n}' for a, b, n in imps if n and n.startswith('_') and not n.startswith('__')})
    graph = {}
    for a, b, _ in imps:
        if b in mods and b != a: graph.setdefault(a, set()).add(b)
    order = list(mods)
    cycles = sorted({f'{a} <-> {b}' for a, bs in graph.items() for b in bs if a in graph.get(b, ())})
    res = dict(lines=lines, total=sum(lines.values()), longest=[f'{f} ({n} lines)' for n, f in fns[:10]],
               over_60=[f'{f} ({n})' for n, f in fns if n >= 60], private_imports=private,
               graph={k: sorted(v) for k, v in sorted(graph.items())}, cycles=cycles)
    if '--json' in sys.argv: print(json.dumps(res, indent=1)); return
    print('lines per module:', ', '.join(f'{k} {v}' for k, v in lines.items()), f'(total {res["total"]})')
    print('ten longest functions:', ', '.join(res['longest']))
    print('functions of 60+ lines:', ', '.join(res['over_60']) or 'none')
    print('private names imported across modules:', ', '.join(private) or 'none')
    print('imports between modules:', '; '.join(f'{k} <- {", ".join(v)}' for k, v in res['graph'].items()))
    print('import cycles:', ', '.join(cycles) or 'none')

if __name__ == '__main__': main()
