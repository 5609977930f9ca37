"""How many in-distribution films the out-of-scope check excludes at small validation sizes (issue 24, item 8): the
limit `train` sets on the model's feature score is the conformal quantile of the validation films' scores
(`model.conformal_limit`, at most 1% excluded on average whatever the scores' shape, no limit below 99 films). This
benchmark draws validation sets of 16, 40 and 100 films many times from a trained run's held-out films (its validation
and test films, which the network never trained on), sets the limit from each draw as `train` would, and counts the
share of the other held-out films that the limit would exclude. Beside it, two limits without the finite-sample
correction (the plain 99th percentile and the largest validation score) show what the correction buys.

    python benchmarks/bench_scope_sizes.py RUN [--sizes 16,40,100] [--draws 20000] [--json benchmarks/results/scope_sizes.json]

RUN is a classification run (`make demo` makes one: `demo/run`). The header and pixel checks that run beside the
features (size, blank, colour) are counted on the same films. Writes figures only (no file names)."""
import argparse, json, math, os, platform, sys, time, warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from scoliosis_xray.augment import eval_transform
from scoliosis_xray.data import XrayDataset
from scoliosis_xray.evaluate import run_cache
from scoliosis_xray.model import conformal_limit, feature_matrix, fit_ood, ood_scores, OOD_QUANTILE
from scoliosis_xray.predict import scope_reasons
from scoliosis_xray.run import Run
from scoliosis_xray.train import load_model

def _features(model, df, cache, limit=None):
    ok, _ = cache.build(df, workers=1, progress=False)
    dl = DataLoader(XrayDataset(ok, cache, eval_transform(tuple(cache.size))), batch_size=32)
    return feature_matrix(model, dl, 'cpu', limit), ok

def _frame(run, sp, split):
    rows = sp[sp['split'] == split]
    df = pd.DataFrame(dict(path=[p if os.path.isabs(p) else os.path.normpath(run.path / p) for p in rows['path']], label=list(rows['label'])))
    df['y'] = (df['label'] == 'Scoliosis').astype(int)
    return df

def limits(ref, quantile=OOD_QUANTILE)->dict:
    "The product's limit (conformal, None below 99 films) and two without the finite-sample correction."
    return dict(conformal=conformal_limit(ref, quantile), percentile=float(np.quantile(ref, quantile)), largest=float(np.max(ref)))

def simulate(scores, sizes, draws, seed=0)->dict:
    "Per validation size: the share of the other held-out films each limit excludes, over `draws` random draws."
    rng = np.random.default_rng(seed); out = {}
    for n in sizes:
        if n >= len(scores): continue
        shares = {k: [] for k in ('conformal', 'percentile', 'largest')}
        for _ in range(draws):
            perm = rng.permutation(len(scores)); ref, rest = scores[perm[:n]], scores[perm[n:]]
            for k, lim in limits(ref).items(): shares[k].append(0.0 if lim is None else float((rest > lim).mean()))
        out[str(n)] = {k: dict(mean=float(np.mean(v)), p95=float(np.quantile(v, 0.95)), share_of_draws_over_1pct=float(np.mean(np.array(v) > 0.01)))
                       for k, v in shares.items()}
        j = math.ceil((n + 1) * OOD_QUANTILE - 1e-9)
        out[str(n)]['limit_set'] = j <= n                                            # below 99 films: no limit, nothing excluded
        out[str(n)]['conformal_expected'] = (n + 1 - j) / (n + 1) if j <= n else 0.0   # exact for exchangeable films, continuous scores
    return out

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('run'); ap.add_argument('--sizes', default='16,40,100'); ap.add_argument('--draws', type=int, default=20000)
    ap.add_argument('--json', default='benchmarks/results/scope_sizes.json'); ap.add_argument('--seed', type=int, default=0)
    a = ap.parse_args(argv)
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
    run = Run(a.run); t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model, ck = load_model(run.best)
        cache = run_cache(run, ck)
        sp = pd.read_csv(run.splits_file, dtype=str, keep_default_na=False, encoding_errors='surrogateescape')
        train, _ = _features(model, _frame(run, sp, 'train'), cache, limit=1000)
        held = pd.concat([_frame(run, sp, 'val'), _frame(run, sp, 'test')], ignore_index=True)
        feats, ok = _features(model, held, cache)
    stats = fit_ood(train)
    scores = ood_scores(stats, feats)
    other = [bool(r) for r in (scope_reasons(p, m['format'], m['height'], m['width'], m['blank'])
                               for p, m in ((p, cache.meta(p)) for p in ok['path']))]
    sizes = [int(s) for s in a.sizes.split(',')]
    res = simulate(scores, sizes, a.draws, a.seed)
    print(f'{len(scores)} held-out in-distribution films (validation + test of the run), {len(train)} training films for the statistics; '
          f'{sum(other)} flagged by the header and pixel checks')
    print(f'{"validation films":>17} | {"conformal (the product)":>26} | {"expected":>8} | {"plain 99th percentile":>24} | {"largest val score":>20}')
    for n, r in res.items():
        cell = lambda k: f'{100 * r[k]["mean"]:5.2f}% (95th pct {100 * r[k]["p95"]:5.2f}%)'
        print(f'{n:>17} | {cell("conformal"):>26} | {100 * r["conformal_expected"]:7.2f}% | {cell("percentile"):>24} | {cell("largest"):>20}')
    out = dict(benchmark='bench_scope_sizes', date=str(date.today()), quantile=OOD_QUANTILE, draws=a.draws, seed=a.seed,
               held_out_films=int(len(scores)), training_films=int(len(train)), flagged_by_header_or_pixels=int(sum(other)),
               backbone=ck.backbone, image_size=list(cache.size), sizes=res, seconds=round(time.perf_counter() - t0, 1),
               machine=dict(cpu_count=len(os.sched_getaffinity(0)), python=platform.python_version(), torch=torch.__version__),
               command=f'python benchmarks/bench_scope_sizes.py RUN --sizes {a.sizes} --draws {a.draws} --seed {a.seed}')
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(out, indent=1) + '\n')
    print(f'written: {a.json}')

if __name__ == '__main__': main()
