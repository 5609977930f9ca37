#!/usr/bin/env python
"""Coverage of the reported 95% intervals, by simulation: every agreement statistic of `scoliosis_xray.cobb.agreement`
at 5, 12, 20 and 128 films under the four `AGREEMENT_DESIGNS`, and every classification metric of
`scoliosis_xray.metrics.metric_intervals` under `COVERAGE_DESIGNS` (the unequal-spread ROC-AUC designs included).

    python benchmarks/bench_intervals.py [--draws 1000] [--boot 1000] [--json benchmarks/results/agreement_coverage.json]

Writes the JSON (21_cobb quotes it through `cobb.coverage_results`) and prints the tables.
"""
import argparse, json, platform, sys, time
from datetime import date
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--draws', type=int, default=1000, help='simulated evaluations per cell (default 1000)')
    ap.add_argument('--boot', type=int, default=1000, help='bootstrap resamples for SMAPE and MAE (default 1000)')
    ap.add_argument('--sizes', type=int, nargs='+', default=[5, 12, 20, 128], help='films per evaluation (default 5 12 20 128)')
    ap.add_argument('--json', default=str(ROOT / 'benchmarks' / 'results' / 'agreement_coverage.json'), help='where the results go')
    a = ap.parse_args(argv)
    from scoliosis_xray.cobb import agreement_coverage, AGREEMENT_DESIGNS
    from scoliosis_xray.metrics import interval_coverage, COVERAGE_DESIGNS
    t0 = time.time()
    rows = []
    for name, d in AGREEMENT_DESIGNS.items():
        for n in a.sizes:
            rows.append(agreement_coverage(n, n_draws=a.draws, n_boot=a.boot, seed=1, **d).assign(design=name))
            print(f'{name}, n = {n}: {time.time() - t0:.0f} s', file=sys.stderr, flush=True)
    agr = pd.concat(rows)
    cls = pd.concat([interval_coverage(*d[:2], d=d[2], score_threshold=d[3], sd_pos=d[4], n_draws=a.draws, seed=3).assign(design=name)
                     for name, d in COVERAGE_DESIGNS.items()])
    out = dict(benchmark='bench_intervals', date=str(date.today()), n_draws=a.draws, n_boot=a.boot, seconds=round(time.time() - t0),
               machine=dict(python=platform.python_version(), platform=platform.platform()),
               agreement=agr[['design', 'n', 'statistic', 'true', 'coverage', 'defined', 'mean_width']].to_dict('records'),
               classification=cls[['design', 'metric', 'true', 'coverage', 'defined', 'mean_width']].to_dict('records'))
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(out, indent=1, allow_nan=False, default=float) + '\n')
    print(agr.pivot_table(index=['design', 'statistic'], columns='n', values='coverage', sort=False).round(3).to_string())
    print(cls.pivot(index='metric', columns='design', values='coverage')[list(COVERAGE_DESIGNS)].round(3).to_string())
    print(f'wrote {a.json} ({out["seconds"]} s)')


if __name__ == '__main__':
    main()
