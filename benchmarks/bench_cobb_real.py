#!/usr/bin/env python
"""The Cobb-angle measurement on real radiographs: train the landmark model with the product's own command line on an
AASCE-layout folder (the challenge's 481 training films, say), with a fixed held-out fold grouped by patient, measure
the held-out films with `cobb evaluate`, and write what came out as JSON and a table.

    python benchmarks/bench_cobb_real.py --data ../shared/data/aasce-training [--work /tmp/cobb-real] [--folds 5]
           [--fold 0 | --all-folds] [--json benchmarks/results/cobb_real.json] [--add-refiner] [-- extra `cobb train` options]

The folds: `data.kfold_splits` over the whole folder (grouped by patient, from the AASCE file names, and by
near-duplicate images; stratified at 10 degrees), seed 0. The held-out fold is the run's test split; the other folds are
split once more into training and validation films (`make_splits`, 15% validation), so the held-out films choose
nothing: not the epoch, not a threshold. Every film of the held-out fold is scored against its given angles, films
whose annotation cannot be trained on included (their landmarks are not compared, their angles are).

Written: the JSON (`--json`; default benchmarks/results/cobb_real.json) with the numbers, the commands run, the
recipe, the time per epoch and the machine; the run folders stay under `--work`. The JSON holds figures only: no file
name, landmark or image of the data set. 24_cobb_evaluate and the README quote it.
"""
import argparse, json, os, platform, shlex, subprocess, sys, time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SX = [sys.executable, '-m', 'scoliosis_xray']


def make_splits_file(data, out:Path, k:int, fold:int, seed:int=0)->dict:
    "splits.csv for `fold` held out of `k` patient-grouped folds; returns counts."
    from scoliosis_xray.cobb_train import landmark_table
    from scoliosis_xray.data import kfold_splits, make_splits, save_splits, ImageCache
    df = landmark_table(data, keep_unusable=True)
    cache = ImageCache(size=(512, 256))
    g = kfold_splits(df, k=k, seed=seed, cache=cache, progress=False)
    test = g[g.fold == fold].drop(columns=['fold']).assign(split='test')
    rest = make_splits(g[g.fold != fold].drop(columns=['fold']), val=0.15, test=0.0, seed=seed, cache=cache, progress=False)
    import pandas as pd
    both = pd.concat([rest, test], ignore_index=True)
    both.attrs['excluded'] = g.attrs.get('excluded', [])
    save_splits(both, out, overwrite=True)
    return dict(films=len(both), patients=int(df.patient_id.nunique()), train=int((both.split == 'train').sum()),
                val=int((both.split == 'val').sum()), test=int((both.split == 'test').sum()),
                test_unusable_landmarks=int((~test.usable).sum()) if 'usable' in test else 0)


def run(cmd, log:Path)->float:
    "Run `cmd`, its output appended to `log`; seconds taken. Raises with the log's end when it fails."
    t = time.time()
    with open(log, 'a') as f:
        f.write(f'$ {shlex.join(map(str, cmd))}\n'); f.flush()
        r = subprocess.run(list(map(str, cmd)), stdout=f, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONWARNINGS='ignore'))
    if r.returncode:
        raise SystemExit(f'failed ({r.returncode}): {shlex.join(map(str, cmd))}\n' + log.read_text()[-3000:])
    return time.time() - t


def value(d, *keys):
    for k in keys: d = d.get(k) if isinstance(d, dict) else None
    return d


def paired_smape(first_csv:Path, refined_csv:Path, n_boot:int=5000, seed:int=0)->dict:
    "Film-by-film SMAPE (%) of two `cobb evaluate` measurement tables of the same films: mean difference (refined - first), bootstrap 95% CI, counts."
    import pandas as pd
    from scoliosis_xray.cobb_evaluate import _smape_per_film             # as `cobb evaluate` scores a film (no angles: 100%)
    per = lambda t: 100 * _smape_per_film(t[['pt', 'mt', 'tl']].to_numpy(float), t[['true_pt', 'true_mt', 'true_tl']].to_numpy(float))
    a, b = pd.read_csv(first_csv), pd.read_csv(refined_csv)
    m = a[['path']].assign(x=per(a)).merge(b[['path']].assign(y=per(b)), on='path')
    d = (m.y - m.x).to_numpy()
    rng = np.random.default_rng(seed)
    boot = d[rng.integers(0, len(d), (n_boot, len(d)))].mean(1)
    return dict(n=len(d), first=float(m.x.mean()), refined=float(m.y.mean()), difference=float(d.mean()),
                ci=[float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))], method='paired bootstrap of the per-film SMAPE difference (percentile, 5000 resamples, seed 0)',
                better=int((d < -1e-9).sum()), worse=int((d > 1e-9).sum()))


def one_fold(a, fold:int, extra:list)->dict:
    work = Path(a.work); work.mkdir(parents=True, exist_ok=True)
    splits, rund, evald, log = work / f'splits-fold{fold}.csv', work / f'run-fold{fold}', work / f'eval-fold{fold}', work / f'fold{fold}.log'
    counts = make_splits_file(a.data, splits, a.folds, fold)
    train_cmd = SX + ['cobb', 'train', '--data', a.data, '--splits', splits, '--out', rund, '--quiet'] + extra
    eval_cmd = SX + ['cobb', 'evaluate', '--run', rund, '--out', evald, '--quiet', '--overwrite']
    t_train = None
    done = (rund / "metrics.json").exists() and json.loads((rund / "metrics.json").read_text()).get("complete")
    if not done: t_train = run(train_cmd + (["--resume"] if (rund / "config.json").exists() else []), log)
    refine_cmd = SX + ['cobb', 'refine', rund, '--quiet']
    if a.add_refiner and 'refine' not in json.loads((rund / 'metrics.json').read_text()): run(refine_cmd, log)   # a run trained before refiners
    t_eval = run(eval_cmd, log)
    first, evald1 = None, work / f'eval-fold{fold}-first-reading'
    eval1_cmd = SX + ['cobb', 'evaluate', '--run', rund, '--out', evald1, '--quiet', '--overwrite', '--no-refiner']
    if (json.loads((rund / 'metrics.json').read_text()).get('refine') or {}).get('used'):     # the same model without its refiner, film by film
        run(eval1_cmd, log)
        ev1 = json.loads((evald1 / 'metrics.json').read_text())['metrics']
        first = dict(all_films=ev1['all'], ok_films=ev1['ok'], verdict=ev1['verdict'], paired=paired_smape(evald1 / 'measurements.csv', evald / 'measurements.csv'))
    m = json.loads((rund / 'metrics.json').read_text())
    conf = json.loads((rund / 'config.json').read_text())
    ev = json.loads((evald / 'metrics.json').read_text())['metrics']
    hist = m['history']
    sec = [h.get('seconds') for h in hist if h.get('seconds')]
    ref = {k: v for k, v in (m.get('refine') or {}).items() if k != 'history'}
    if m.get('refine'): ref['seconds_per_epoch'] = round(float(np.median([h['seconds'] for h in m['refine']['history']])), 1)
    return dict(fold=fold, counts=counts, refiner=ref or None, first_reading=first, train_minutes=round((t_train if t_train is not None else sum(sec)) / 60, 1),   # a run trained before: its epochs' time
                evaluate_minutes=round(t_eval / 60, 1),
                seconds_per_epoch=round(float(np.median(sec)), 1) if sec else None, epochs_run=len(hist), best_epoch=m['best_epoch'],
                weights=conf.get('weights', {}).get('used'), amp=m.get('amp_used'),
                recipe={k: conf['train'].get(k, 0) for k in ('epochs', 'image_size', 'backbone', 'batch_size', 'lr', 'augment', 'patience', 'refine_epochs')},
                all_films=ev['all'], ok_films=ev['ok'], verdict=ev['verdict'],
                commands=[shlex.join(['python'] + list(map(str, c[1:]))).replace(str(a.data), 'DATA').replace(str(work), 'WORK') for c in (train_cmd, *([refine_cmd] if a.add_refiner else []), eval_cmd, *([eval1_cmd] if first else []))])


def summary(folds:list)->dict:
    "Headline numbers of the folds (their mean when there are several)."
    pick = lambda f: dict(smape_all=value(f, 'all_films', 'smape', 'value'), smape_all_ci=value(f, 'all_films', 'smape', 'ci'),
                          smape_ok=value(f, 'ok_films', 'smape', 'value'), ok_share=value(f, 'verdict', 'ok_share', 'value'),
                          mae_largest_all=value(f, 'all_films', 'mae', 'largest', 'value'), icc_all=value(f, 'all_films', 'icc', 'value'),
                          flag_auc=value(f, 'verdict', 'flag_auc', 'value'), confidence_auc=value(f, 'verdict', 'confidence_auc', 'value'),
                          films=value(f, 'verdict', 'n'))
    rows = [pick(f) for f in folds]
    if len(rows) == 1: return rows[0]
    return {k: (float(np.mean([r[k] for r in rows if isinstance(r[k], (int, float))])) if not k.endswith('_ci') else None) for k in rows[0]}


def table(res)->str:
    s = res['summary']
    f = lambda v, d=1, pct=False: '-' if v is None else (f'{100 * v:.{d}f}%' if pct else f'{v:.{d}f}')
    ci = s.get('smape_all_ci')
    return '\n'.join([
        '| held-out films | SMAPE, all films | SMAPE, ok films | ok | largest-angle MAE, all | ICC, all | flag ROC-AUC (error > 10°) | confidence ROC-AUC |',
        '|---|---|---|---|---|---|---|---|',
        f"| {s['films']} | {f(s['smape_all'])}%" + (f' ({ci[0]:.1f}-{ci[1]:.1f})' if ci else '') +
        f" | {f(s['smape_ok'])}% | {f(s['ok_share'], 1, True)} | {f(s['mae_largest_all'])}° | {f(s['icc_all'], 3)} | {f(s['flag_auc'], 2)} | {f(s.get('confidence_auc'), 2)} |"])


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index('--') + 1:] if '--' in argv else []
    argv = argv[:argv.index('--')] if '--' in argv else argv
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', required=True, help='an AASCE-layout folder (data/training, labels/training)')
    ap.add_argument('--work', default=str(Path(os.environ.get('TMPDIR', '/tmp')) / 'cobb-real'), help='run folders and logs (default /tmp/cobb-real)')
    ap.add_argument('--folds', type=int, default=5, help='patient-grouped folds (default 5)')
    ap.add_argument('--fold', type=int, default=0, help='the held-out fold (default 0)')
    ap.add_argument('--all-folds', action='store_true', help='hold out each fold in turn (k trainings)')
    ap.add_argument('--add-refiner', action='store_true', help='a fold run trained before refiners existed (found complete in --work) gets one by `cobb refine` before it is evaluated')
    ap.add_argument('--json', default=str(ROOT / 'benchmarks' / 'results' / 'cobb_real.json'), help='where the results go')
    a = ap.parse_args(argv)
    a.data = str(Path(a.data).resolve())
    folds = [one_fold(a, f, extra) for f in (range(a.folds) if a.all_folds else [a.fold])]
    import torch
    res = dict(benchmark='bench_cobb_real', date=str(date.today()), data=dict(name=Path(a.data).name, folds=a.folds),
               machine=dict(cpu_count=os.cpu_count(), platform=platform.platform(terse=True), python=platform.python_version(),
                            torch=torch.__version__, torch_threads=torch.get_num_threads()),
               extra_options=extra, summary=summary(folds), folds=folds)
    out = Path(a.json); out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + '\n')
    print(table(res)); print(f'wrote {out}')


if __name__ == '__main__':
    main()
