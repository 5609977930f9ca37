#!/usr/bin/env python
"""Which signal would make a better verdict on real films: for a trained landmark run (with its vertebra refiner) and
the AASCE-layout folder it was trained on, measure its validation films (to choose on) and its held-out test films (to
report on), and score each candidate flag for "largest angle off by more than 10 degrees":

- `first_flag`: the verdict as it is (the first reading's checks);
- `confidence`: 1 - the share of the eight readings whose own verdict was ok;
- `refine_spread`: the spread (SD, degrees) of the largest angle over the refiner's six readings;
- `both`: the two above, each as a rank within its split, added.

For each: ROC-AUC on validation and on test, and the yes/no flag that flags the top 3, 6, 10 or 15% of validation
films, applied unchanged to the test films (share ok, large errors caught, the flag's ROC-AUC, SMAPE of the ok films).

    python benchmarks/bench_cobb_verdict.py --run WORK/run-fold0 --data ../shared/data/aasce-training [--json F]

The JSON holds figures only (no file name, landmark or image of the data set)."""
import argparse, json, sys
from datetime import date
from pathlib import Path

import numpy as np, pandas as pd, torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def measure_split(run, data, splits=('val', 'test'), progress=True)->pd.DataFrame:
    "One row per film of `splits`: the verdict's inputs, the refined angles and the given ones."
    from tqdm.auto import tqdm
    from scoliosis_xray.cobb_evaluate import measure
    from scoliosis_xray.cobb_train import load_landmark_model, landmark_table, listed_in, true_angles
    from scoliosis_xray.data import read_image, load_splits
    from scoliosis_xray.run import Run
    run = Run(run); dev = torch.device('cpu')
    model, ck = load_landmark_model(run.best, dev)
    if not (run.load_metrics().get('refine') or {}).get('used'): raise SystemExit(f'{run.path}: this run has no vertebra refiner it uses; train one with `scoliosis-xray cobb refine`')
    df = load_splits(run.splits_file, listed_in(landmark_table(data), run.splits_file))
    rows = df[df.split.isin(splits)].reset_index(drop=True)
    T, out = true_angles(rows), []
    for i in tqdm(range(len(rows)), desc='films', disable=not progress):
        m = measure(model, ck, [read_image(rows.path.iloc[i])], dev)[0]
        a = m['angles'] or {}
        out.append(dict(split=rows.split.iloc[i], ok=bool(m['ok']), confidence=m.get('confidence', np.nan), refine_spread=m.get('refine_spread', np.nan),
                        pt=a.get('pt', np.nan), mt=a.get('mt', np.nan), tl=a.get('tl', np.nan), largest=a.get('largest', np.nan),
                        true_pt=T[i, 0], true_mt=T[i, 1], true_tl=T[i, 2]))
    return pd.DataFrame(out)


def score(d:pd.DataFrame, shares=(0.03, 0.06, 0.10, 0.15))->dict:
    from sklearn.metrics import roc_auc_score
    d = d.copy()
    d['bad'] = ~((d.largest - d[['true_pt', 'true_mt', 'true_tl']].max(axis=1)).abs() <= 10)
    A, T = d[['pt', 'mt', 'tl']].to_numpy(float), d[['true_pt', 'true_mt', 'true_tl']].to_numpy(float)
    den = (A + T).sum(1)
    d['smape'] = np.where(np.isfinite(A).all(1), np.abs(A - T).sum(1) / np.where(den > 0, den, 1), 1.0)
    sig = {'first_flag': (~d.ok).astype(float), 'confidence': 1 - d.confidence.fillna(0), 'refine_spread': d.refine_spread.fillna(90.0)}
    sig['both'] = d.groupby('split')['confidence'].transform(lambda s: (1 - s.fillna(0)).rank(pct=True)) + \
                  d.assign(r=sig['refine_spread']).groupby('split')['r'].rank(pct=True)
    v, t = (d.split == 'val').to_numpy(), (d.split == 'test').to_numpy()
    auc = lambda m, s: float(roc_auc_score(d.bad[m], s[m])) if 0 < d.bad[m].sum() < m.sum() else None
    res = dict(films=dict(val=int(v.sum()), test=int(t.sum())), large_errors=dict(val=int(d.bad[v].sum()), test=int(d.bad[t].sum())), signals={})
    for k, s in sig.items():
        s = s.to_numpy(float); rows = []
        for q in shares:
            thr = float(np.quantile(s[v], 1 - q)); f = s > thr
            row = dict(flag_share_on_val=q, threshold=thr)
            for name, m in (('val', v), ('test', t)):
                ff, bb = f[m], d.bad.to_numpy()[m]
                tpr, tnr = (ff & bb).sum() / max(1, bb.sum()), (~ff & ~bb).sum() / max(1, (~bb).sum())
                row[name] = dict(ok_share=float(1 - ff.mean()), flagged=int(ff.sum()), large_errors_flagged=int((ff & bb).sum()),
                                 flag_auc=float((tpr + tnr) / 2), smape_ok=float(100 * d.smape.to_numpy()[m][~ff].mean()))
            rows.append(row)
        res['signals'][k] = dict(auc_val=auc(v, s), auc_test=auc(t, s), flags=rows)
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--run', required=True, help='a landmark run folder with a vertebra refiner (from bench_cobb_real.py)')
    ap.add_argument('--data', required=True, help='the AASCE-layout folder it was trained on')
    ap.add_argument('--json', default=str(ROOT / 'benchmarks' / 'results' / 'cobb_verdict.json'))
    a = ap.parse_args(argv)
    res = dict(benchmark='bench_cobb_verdict', date=str(date.today()), data=Path(a.data).name, **score(measure_split(a.run, a.data)))
    Path(a.json).write_text(json.dumps(res, indent=1) + '\n')
    for k, s in res['signals'].items():
        print(f"{k:14s} ROC-AUC val {s['auc_val'] or float('nan'):.3f} test {s['auc_test'] or float('nan'):.3f}")
        for r in s['flags']:
            print(f"   flag top {100 * r['flag_share_on_val']:.0f}% of val: test ok {100 * r['test']['ok_share']:.0f}%, large errors flagged "
                  f"{r['test']['large_errors_flagged']} of {res['large_errors']['test']}, flag ROC-AUC {r['test']['flag_auc']:.2f}, SMAPE ok {r['test']['smape_ok']:.2f}%")
    print('wrote', a.json)


if __name__ == '__main__':
    main()
