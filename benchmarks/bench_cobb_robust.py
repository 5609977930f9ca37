#!/usr/bin/env python
"""How the landmark model's measurement holds up on films unlike its training films: each held-out film of a landmark
run is measured as it is and after one change a film from another hospital might carry, and the SMAPE over all films,
the share judged ok, and the share off by more than 10 degrees are compared.

    python benchmarks/bench_cobb_robust.py --run RUN --data DIR [--split test] [--json benchmarks/results/cobb_robust.json]

Changes: downscaled to 200 px wide (and back to nothing else), rotated 5 degrees, inverted (MONOCHROME1 read as
MONOCHROME2), contrast lowered to a third, cut off above (the top 12% of the film) and below (the bottom 12%),
padded to twice the width (a wider field of view), and JPEG at quality 30. The angles keep their reference (a rotation
leaves Cobb angles unchanged; a cut may remove an end vertebra, and the film should then be flagged). Writes figures
only (no file name or image of the data)."""
import argparse, io, json, os, platform, sys, time
from datetime import date
from pathlib import Path
import numpy as np, torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'benchmarks'))
from landmark_run import open_run
from scoliosis_xray.cobb_train import true_angles
from scoliosis_xray.cobb_evaluate import measure_each, _smape_per_film
from scoliosis_xray.data import read_image

def _pil(a): return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))

def changes(a):
    "name -> changed copy of the 8-bit film `a` (H x W float)."
    h, w = a.shape
    small = np.asarray(_pil(a).resize((200, max(8, round(h * 200 / w))), Image.Resampling.BILINEAR), dtype=np.float32)
    buf = io.BytesIO(); _pil(a).save(buf, 'JPEG', quality=30)
    pad = np.zeros((h, 2 * w), np.float32); pad[:, w // 2:w // 2 + w] = a
    return {'as it is': a, '200 px wide': small, 'rotated 5 degrees': np.asarray(_pil(a).rotate(5, resample=Image.Resampling.BILINEAR, expand=True), dtype=np.float32),
            'inverted': 255 - a, 'contrast / 3': a.mean() + (a - a.mean()) / 3, 'top 12% cut off': a[int(0.12 * h):], 'bottom 12% cut off': a[:h - int(0.12 * h)],
            'padded to twice the width': pad, 'JPEG quality 30': np.asarray(Image.open(buf), dtype=np.float32)}

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--run', required=True); ap.add_argument('--data', required=True); ap.add_argument('--split', default='test')
    ap.add_argument('--json', default=str(ROOT / 'benchmarks' / 'results' / 'cobb_robust.json'))
    ap.add_argument('--readings', type=int, default=8)
    ap.add_argument('--limit', type=int, default=0, help='only the first N films (a smoke test)')
    a = ap.parse_args(argv)
    dev = torch.device('cpu')
    model, ck, films = open_run(a.run, a.data, dev)
    rows = films[films.split == a.split].reset_index(drop=True)
    if a.limit: rows = rows.head(a.limit)
    T = true_angles(rows)
    out, t0 = {}, time.time()
    for i, p in enumerate(rows.path):
        im = read_image(p).astype(np.float32)
        im = 255 * (im - im.min()) / max(1e-6, im.max() - im.min())
        for name, c in changes(im).items():
            m, err = measure_each(model, ck, [c], dev, readings=a.readings)[0]
            ang = [np.nan] * 3 if m is None or m['angles'] is None else [m['angles'][k] for k in ('pt', 'mt', 'tl')]
            out.setdefault(name, []).append((ang, bool(m is not None and m['ok'])))
        print(f'{i + 1}/{len(rows)} films ({time.time() - t0:.0f} s)', flush=True)
    res = dict(benchmark='bench_cobb_robust', date=str(date.today()), data=Path(a.data).name, split=a.split, films=len(rows),
               run=dict(epochs=json.loads((Path(a.run) / 'metrics.json').read_text()).get('best_epoch'), readings=a.readings),
               machine=dict(cpu_count=os.cpu_count(), platform=platform.platform(terse=True), torch=torch.__version__), changes={})
    for name, v in out.items():
        A = np.array([x for x, _ in v], dtype=float); ok = np.array([o for _, o in v])
        has = np.isfinite(A).all(1)
        per = _smape_per_film(A, T)
        err = np.abs(A.max(1) - T.max(1))
        res['changes'][name] = dict(smape_all=round(100 * per.mean(), 2), ok_share=round(float(ok.mean()), 3), measured_share=round(float(has.mean()), 3),
                                    off_by_over_10=round(float(np.mean(~(err <= 10))), 3), smape_ok=round(100 * per[ok].mean(), 2) if ok.any() else None)
    print('| film | SMAPE, all | ok | measured | off by > 10° |\n|---|---|---|---|---|')
    for k, r in res['changes'].items(): print(f"| {k} | {r['smape_all']:.1f}% | {100 * r['ok_share']:.0f}% | {100 * r['measured_share']:.0f}% | {100 * r['off_by_over_10']:.0f}% |")
    Path(a.json).parent.mkdir(parents=True, exist_ok=True); Path(a.json).write_text(json.dumps(res, indent=1) + '\n'); print('wrote', a.json)

if __name__ == '__main__': main()
