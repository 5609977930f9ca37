#!/usr/bin/env python
"Write nbs/sidebar.yml listing index.ipynb then every other notebook in file-name order (run after adding a notebook)."
from pathlib import Path
ROOT = Path(__file__).resolve().parent.parent
nbs = sorted(p.name for p in (ROOT / 'nbs').glob('*.ipynb') if p.name != 'index.ipynb')
(ROOT / 'nbs' / 'sidebar.yml').write_text('website:\n  sidebar:\n    contents:\n' + ''.join(f'      - {n}\n' for n in ['index.ipynb'] + nbs))
print((ROOT / 'nbs' / 'sidebar.yml').read_text())
