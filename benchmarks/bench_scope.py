"""How well `predict` flags inputs that are not spine radiographs (issue 11, item 8): the share of a corpus of non-spine
inputs it flags (target >= 95%) and the share of held-out spine radiographs it flags (target <= 2%), per kind.

    python benchmarks/bench_scope.py RUN [--work DIR]

RUN is a training run (its test split are the held-out radiographs; its best.pt must hold the feature statistics that
`train` stores since this release). Prints a table and the two rates."""
import argparse, shutil, sys, tempfile, time, warnings
from pathlib import Path

import numpy as np
import pandas as pd

from scoliosis_xray.predict import predict, out_of_scope_corpus
from scoliosis_xray.run import Run, read_checkpoint

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('run'); ap.add_argument('--work', default=None)
    a = ap.parse_args(argv)
    run = Run(a.run)
    ck = read_checkpoint(run.best)
    if 'ood' not in ck.state: sys.exit(f'{run.best} holds no feature statistics: train the run with this release')
    sp = pd.read_csv(run.splits_file, encoding_errors='surrogateescape')
    test = [str((run.path / p).resolve()) for p in sp[sp.split == 'test'].path]
    work = Path(a.work or tempfile.mkdtemp(prefix='bench-scope-'))
    corpus = out_of_scope_corpus(work / 'corpus', test[:10])
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        bad = predict(run.best, list(corpus), progress=False)
        good = predict(run.best, test, progress=False)
    secs = time.perf_counter() - t0
    bad['kind'] = [corpus[Path(p)] for p in bad.path]
    bad['flagged'] = (bad.warning != '') | (bad.error != '')
    limit = ck.state['ood'].get('threshold')                                # None: too few validation films for a conformal limit
    bad['by_features'] = bad.ood_score > (limit if limit is not None else np.inf)   # what the model's features alone would flag
    print(bad.groupby('kind').agg(inputs=('flagged', 'size'), flagged=('flagged', 'sum'), by_features_alone=('by_features', 'sum')).to_string())
    unread = bad[bad.error != '']
    if len(unread): print(f'({len(unread)} corpus files could not be read at all: {", ".join(Path(p).name for p in unread.path)})')
    gflag = good.warning != ''
    print(f'\nnon-spine inputs flagged: {bad.flagged.mean():.1%} of {len(bad)}  (target >= 95%); by the features alone {bad.by_features.mean():.1%}')
    print(f'held-out spine radiographs flagged: {gflag.mean():.1%} of {len(good)}  (target <= 2%)')
    print(f'feature threshold {"none" if limit is None else format(limit, ".3g")} (fitted on {ck.state["ood"]["n"]} training images, set on {ck.state["ood"]["reference"]}, '
          f'{ck.state["ood"].get("n_reference", "?")} films); '
          f'{len(bad) + len(good)} inputs in {secs:.1f} s')
    for r in good[gflag].itertuples(): print(f'  flagged radiograph {Path(r.path).name}: {r.warning}')
    missed = bad[~bad.flagged]
    for r in missed.itertuples(): print(f'  missed {Path(r.path).name} ({r.kind}): ood score {r.ood_score:.3g}')
    if a.work is None: shutil.rmtree(work, ignore_errors=True)

if __name__ == '__main__': main()
