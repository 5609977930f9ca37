#!/usr/bin/env python
"""Which readings of a film to average (test-time augmentation): a landmark run's validation and held-out films are
measured with several reading plans (the default eight readings at the input's size, and the same readings at other
scales of the input as well), and SMAPE over all films, SMAPE of the films judged ok, the share judged ok, the
largest-angle MAE and the flag's ROC-AUC (largest angle off by more than 10 degrees) are compared, with the paired
difference in SMAPE to the default plan (bootstrap over films, 95% interval).

    python benchmarks/bench_cobb_readings.py --run RUN --data DIR [--json benchmarks/results/cobb_readings.json]

The network runs once per film, reading and scale (`cobb_evaluate.read_points`); each plan then combines its own
readings with `cobb_evaluate.combine_readings`, the function `measure` uses. Choose a plan on the validation films, confirm it on the held-out
ones. Writes figures only (no file name or image of the data)."""
import argparse, json, os, platform, sys, time
from datetime import date
from pathlib import Path
import numpy as np, torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'benchmarks'))
from landmark_run import open_run
from scoliosis_xray.cobb_train import true_angles
from scoliosis_xray.cobb_evaluate import FLAG_ERROR, read_points, combine_readings, _smape_per_film
from scoliosis_xray.core import to_input
from scoliosis_xray.data import read_image, preprocess
from scoliosis_xray.landmark_model import TTA_READINGS
from scoliosis_xray.metrics import roc_auc

SHIFTS = [r[:3] for r in TTA_READINGS]
PLANS = {'8 readings (default)': (1.0,), '16: scales 1, 0.875': (1.0, 0.875), '24: scales 1, 1.125, 0.875': (1.0, 1.125, 0.875),
         '24: scales 1, 0.9375, 0.875': (1.0, 0.9375, 0.875), '24: scales 1, 0.875, 0.75': (1.0, 0.875, 0.75)}

def film_readings(model, ck, im, scales, dev):
    "{scale: [one `read_points` dict per reading of `SHIFTS` at that scale]} for one film: the network runs once per reading."
    pp = ck.preprocess
    x = to_input(preprocess(im, pp.size, pp.window, pp.bits))[None]
    return {sc: [r[0] for r in read_points(model, ck, x, [(dx, dy, f, sc) for dx, dy, f in SHIFTS], dev)] for sc in scales}

def plan_result(reads, scales, im_shape, hw):
    "(angles or None, ok) of one film's readings at `scales`, combined as `measure` combines them (`combine_readings`)."
    m = combine_readings([r for sc in scales for r in reads[sc]], im_shape, hw)
    if m['angles'] is None: return None, False
    return np.array([m['angles'][k] for k in ('pt', 'mt', 'tl')]), m['ok']

def summary(res, T, base=None, n_boot=2000, seed=0):
    "The plan's figures over films with reference angles `T` (n x 3); `base`: the default plan's per-film SMAPE for the paired difference."
    A = np.array([a if a is not None else [np.nan] * 3 for a, _ in res]); ok = np.array([o for _, o in res])
    has = np.isfinite(A).all(1)
    per = _smape_per_film(A, T)
    err = np.where(has, np.abs(np.nan_to_num(A).max(1) - T.max(1)), np.inf)       # a film without angles is a bad measurement
    bad = ~(err <= FLAG_ERROR)
    s = dict(smape_all=100 * per.mean(), smape_ok=100 * per[ok].mean() if ok.any() else None, ok_share=float(ok.mean()),
             mae_largest=float(np.mean(err[has])), n_error_over=int(bad.sum()),
             flag_auc=float(roc_auc(bad.astype(int), (~ok).astype(float))) if 0 < bad.sum() < len(bad) else None)
    if base is not None:
        d = per - base
        rng = np.random.default_rng(seed)
        bs = np.array([d[rng.integers(0, len(d), len(d))].mean() for _ in range(n_boot)])
        s['smape_diff_vs_default'] = dict(value=100 * d.mean(), ci=[100 * float(np.quantile(bs, 0.025)), 100 * float(np.quantile(bs, 0.975))])
    return s, per

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--run', required=True); ap.add_argument('--data', required=True)
    ap.add_argument('--json', default=str(ROOT / 'benchmarks' / 'results' / 'cobb_readings.json'))
    ap.add_argument('--limit', type=int, default=0, help='only the first N films of each split (a smoke test)')
    a = ap.parse_args(argv)
    dev = torch.device('cpu')
    model, ck, films = open_run(a.run, a.data, dev)
    scales = sorted({s for v in PLANS.values() for s in v}, reverse=True)
    out, t0 = dict(benchmark='bench_cobb_readings', date=str(date.today()), data=Path(a.data).name, run_best_epoch=json.loads((Path(a.run) / 'metrics.json').read_text()).get('best_epoch'),
                   machine=dict(cpu_count=os.cpu_count(), torch_threads=torch.get_num_threads(), platform=platform.platform(), torch=torch.__version__), splits={}), time.time()
    hw = tuple(ck.preprocess.size)
    for name in ('val', 'test'):
        rows = films[films.split == name].reset_index(drop=True)
        if a.limit: rows = rows.head(a.limit)
        T = true_angles(rows)
        per_plan = {k: [] for k in PLANS}
        for i, p in enumerate(rows.path):
            im = read_image(p)
            reads = film_readings(model, ck, im, scales, dev)
            for k, sc in PLANS.items(): per_plan[k].append(plan_result(reads, sc, im.shape[:2], hw))
            if (i + 1) % 10 == 0: print(f'{name}: {i + 1}/{len(rows)} films ({time.time() - t0:.0f} s)', flush=True)
        base, res = None, {}
        for k in PLANS:
            res[k], per = summary(per_plan[k], T, base)
            if base is None: base = per
        out['splits'][name] = dict(films=len(rows), plans=res)
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(out, indent=1) + '\n')
    for name, s in out['splits'].items():
        print(f"\n{name} films ({s['films']}):\n| plan | SMAPE all | paired diff vs default (95% CI) | SMAPE ok | ok | MAE largest | off > 10° | flag AUC |\n|---|---|---|---|---|---|---|---|")
        for k, r in s['plans'].items():
            d = r.get('smape_diff_vs_default')
            print(f"| {k} | {r['smape_all']:.2f}% | " + (f"{d['value']:+.2f} ({d['ci'][0]:+.2f} to {d['ci'][1]:+.2f})" if d else '-')
                  + f" | {r['smape_ok'] if r['smape_ok'] is None else round(r['smape_ok'], 2)}% | {100 * r['ok_share']:.1f}% | {r['mae_largest']:.2f}° | {r['n_error_over']} | "
                  + ('-' if r['flag_auc'] is None else f"{r['flag_auc']:.2f}") + ' |')
    print(f'wrote {a.json} ({time.time() - t0:.0f} s)')

if __name__ == '__main__':
    main()
