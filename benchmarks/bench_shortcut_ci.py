"""Coverage of the shortcut check's 95% interval at small, imbalanced sizes (issue 15, item 7): the out-of-fold
interval alone (DeLong + Newcombe on fixed out-of-fold predictions) against the reported one (the wider of that and a
bootstrap that refits the forest on clusters drawn within each class).

    python benchmarks/bench_shortcut_ci.py [--sims 100] [--design 38/14] [--shift 0.0,0.8] [--seed 0]

Metadata is simulated: one feature differs between the classes by `shift` standard deviations, three are noise. The
truth a shortcut interval should cover is how well such a forest separates the classes on new films when fitted to a
dataset of this size: the mean ROC-AUC, on 4,000 fresh films, of 200 forests each fitted to a fresh dataset of the
cross-validation training size. Also printed: how often the lower bound is above 0.5 ("above chance") and above
SHORTCUT_LOWER (flagged). The numbers are measured, not asserted."""
import argparse, time
import numpy as np, pandas as pd
from sklearn.ensemble import RandomForestClassifier
from scoliosis_xray.data import shortcut_check, _auc, SHORTCUT_LOWER

def draw(n1, n0, shift, g):
    "A simulated metadata table with `n1` scoliosis and `n0` normal films."
    y = np.r_[np.ones(n1, int), np.zeros(n0, int)]
    X = g.normal(size=(len(y), 4)); X[:, 0] += shift * y
    return pd.DataFrame(X, columns=['width', 'height', 'file_size', 'aspect']), y

def truth(n1, n0, shift, g, fits=200, folds=5):
    "Mean fresh-data ROC-AUC of forests fitted to datasets of the cross-validation training size."
    m1, m0 = max(2, round(n1 * (folds - 1) / folds)), max(2, round(n0 * (folds - 1) / folds))
    Xt, yt = draw(2000, 2000, shift, g)
    aucs = []
    for i in range(fits):
        X, y = draw(m1, m0, shift, g)
        clf = RandomForestClassifier(n_estimators=100, min_samples_leaf=2, random_state=i, n_jobs=1).fit(X.to_numpy(), y)
        aucs.append(_auc(yt, clf.predict_proba(Xt.to_numpy())[:, 1]))
    return float(np.mean(aucs))

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--sims', type=int, default=100); ap.add_argument('--design', default='38/14')
    ap.add_argument('--shift', default='0.0,0.8'); ap.add_argument('--seed', type=int, default=0)
    a = ap.parse_args()
    n1, n0 = (int(v) for v in a.design.split('/'))
    print(f'design {n1} scoliosis / {n0} normal, {a.sims} simulated datasets per shift')
    print(f"{'shift':>5} {'true AUC':>8} | {'out-of-fold only':^28} | {'reported (with refit)':^28} | s/check")
    print(f"{'':>5} {'':>8} | {'cover':>6} {'width':>6} {'>0.5':>6} {'flag':>6} | {'cover':>6} {'width':>6} {'>0.5':>6} {'flag':>6} |")
    for shift in (float(s) for s in a.shift.split(',')):
        g = np.random.default_rng(a.seed)
        t = truth(n1, n0, shift, g)
        rows, t0 = [], time.time()
        for s in range(a.sims):
            X, y = draw(n1, n0, shift, g)
            r = shortcut_check(X, y, seed=s)
            rows.append([r['ci_oof'][0] <= t <= r['ci_oof'][1], r['ci_oof'][1] - r['ci_oof'][0], r['ci_oof'][0] > 0.5, r['ci_oof'][0] > SHORTCUT_LOWER,
                         r['ci'][0] <= t <= r['ci'][1], r['ci'][1] - r['ci'][0], r['ci'][0] > 0.5, r['ci'][0] > SHORTCUT_LOWER])
        m = np.mean(np.array(rows, float), 0)
        print(f'{shift:>5.2f} {t:>8.3f} | ' + ' '.join(f'{v:>6.2f}' for v in m[:4]) + ' | ' + ' '.join(f'{v:>6.2f}' for v in m[4:])
              + f' | {(time.time() - t0) / a.sims:.1f}')

if __name__ == '__main__': main()
