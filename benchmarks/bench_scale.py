#!/usr/bin/env python
"""The decode-once cache at scale (issue 14 item 5): build rate, epoch time and peak memory at 2,000 and 20,000
synthetic radiographs, and a build killed halfway that the same command finishes.

The cache keeps one `.npy` file per decoded image on disk (sharded by content hash) and `XrayDataset` reads one file
per item, so nothing grows in memory with the number of images: this benchmark checks that peak RSS does not grow
from the small to the large set. Each step runs in a fresh process:

  1. build: `ImageCache.build` over the manifest (decode, resize, hashes, thumbnail), `--workers` processes;
  2. epoch: one shuffled pass of `XrayDataset` through a DataLoader with `--workers` workers (no model: the data path);
  3. (largest set only) resume: a fresh cache's build is killed (SIGKILL) once about half the images are cached, then
     run again; it decodes only what is missing.

The images are synthetic films drawn at `--height` px (default 256, so that 20,000 of them are drawn in minutes) and
saved as PNG. Prints a table and a JSON line.

Usage: python benchmarks/bench_scale.py [--sizes 2000,20000] [--height 256] [--workers 2] [--batch 32] [--dir DIR]"""
import argparse, json, os, shutil, signal, subprocess, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cache import _peak   # peak RSS of this process and its largest child

def _make(job):
    i, out, height = job
    from PIL import Image
    from scoliosis_xray.synth import synth_image
    pix, rec, _ = synth_image(0, i, height=height)
    p = Path(out) / f'film_{i:05d}.png'
    Image.fromarray(pix).save(p)
    return str(p), rec['label']

def generate(d, n, height, workers):
    "n synthetic PNGs in d/png and a manifest d/all.csv (reused when already there)."
    import pandas as pd
    from concurrent.futures import ProcessPoolExecutor
    marker = d / 'png' / 'done.json'; want = dict(n=n, height=height, version=1)
    if marker.exists() and json.loads(marker.read_text()) == want: return 0.0
    shutil.rmtree(d / 'png', ignore_errors=True); (d / 'png').mkdir(parents=True)
    t = time.perf_counter()
    with ProcessPoolExecutor(workers) as ex: rows = list(ex.map(_make, [(i, d / 'png', height) for i in range(n)], chunksize=64))
    pd.DataFrame(rows, columns=['path', 'label']).to_csv(d / 'all.csv', index=False)
    marker.write_text(json.dumps(want))
    return time.perf_counter() - t

def phase(name, manifest, cache_dir, workers, batch):
    "One measured step in this (fresh) process; prints one JSON line."
    from scoliosis_xray.data import ImageCache, XrayDataset, load_dataset
    df = load_dataset(manifest); cache = ImageCache(cache_dir)
    if name == 'build':
        before = sum(1 for _ in cache.dir.rglob('*.npy')) if cache.dir.exists() else 0
        t = time.perf_counter(); ok, fails = cache.build(df, workers=workers, progress=False); dt = time.perf_counter() - t
        assert len(fails) == 0, fails
        out = dict(images=len(ok), cached_before=before)
    else:
        import torch
        from torch.utils.data import DataLoader
        torch.set_num_threads(1)
        dl = DataLoader(XrayDataset(df, cache), batch_size=batch, shuffle=True, num_workers=workers, generator=torch.Generator().manual_seed(0))
        t = time.perf_counter(); n = 0
        for x, y in dl: n += len(y)
        dt = time.perf_counter() - t
        out = dict(images=n, shape=list(x.shape[1:]))
    print(json.dumps(dict(phase=name, seconds=dt, **out, **_peak())))

def _run(name, manifest, cache_dir, a):
    r = subprocess.run([sys.executable, __file__, '--phase', name, '--manifest', str(manifest), '--cache', str(cache_dir),
                        '--workers', str(a.workers), '--batch', str(a.batch)], capture_output=True, text=True)
    if r.returncode: sys.exit(f'{name} failed:\n{r.stderr[-3000:]}')
    return json.loads(r.stdout.strip().splitlines()[-1])

def killed_halfway(manifest, cache_dir, n, a):
    "Start a build, SIGKILL it when about half the images are cached; returns how many were cached when it died."
    from scoliosis_xray.data import ImageCache
    entries = ImageCache(cache_dir).dir
    p = subprocess.Popen([sys.executable, __file__, '--phase', 'build', '--manifest', str(manifest), '--cache', str(cache_dir),
                          '--workers', str(a.workers), '--batch', str(a.batch)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    while p.poll() is None:
        if entries.exists() and sum(1 for _ in entries.rglob('*.npy')) >= n // 2: break
        time.sleep(1)
    os.killpg(p.pid, signal.SIGKILL); p.wait()
    return sum(1 for _ in entries.rglob('*.npy'))

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--sizes', default='2000,20000'); ap.add_argument('--height', type=int, default=256)
    ap.add_argument('--workers', type=int, default=os.cpu_count() or 1); ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--dir', type=Path, default=None)
    ap.add_argument('--phase', default=None, help=argparse.SUPPRESS); ap.add_argument('--manifest', help=argparse.SUPPRESS)
    ap.add_argument('--cache', help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.phase: return phase(a.phase, a.manifest, a.cache, a.workers, a.batch)
    import pandas as pd
    sizes = sorted(int(s) for s in a.sizes.split(','))
    d = a.dir or Path(tempfile.mkdtemp(prefix='bench-scale-'))
    try:
        t_gen = generate(d, sizes[-1], a.height, a.workers)
        allrows = pd.read_csv(d / 'all.csv')
        print(f'bench_scale: {len(allrows)} synthetic PNGs, {a.height} px tall' + (f' (drawn in {t_gen:.0f} s)' if t_gen else ' (reused)') +
              f'; {os.cpu_count()} cores, {a.workers} workers, batch {a.batch}; each step in a fresh process')
        res = {}
        for n in sizes:
            man = d / f'n{n}.csv'; allrows.head(n).to_csv(man, index=False)
            shutil.rmtree(d / f'cache{n}', ignore_errors=True)
            res[n] = dict(build=_run('build', man, d / f'cache{n}', a), epoch=_run('epoch', man, d / f'cache{n}', a))
            shutil.rmtree(d / f'cache{n}', ignore_errors=True)
        n = sizes[-1]; man = d / f'n{n}.csv'; rc = d / 'cache-resume'
        shutil.rmtree(rc, ignore_errors=True)
        at_kill = killed_halfway(man, rc, n, a)
        again = _run('build', man, rc, a)
        shutil.rmtree(rc, ignore_errors=True)
        print(f'  {"images":>7} {"build img/s":>12} {"epoch s":>8} {"epoch img/s":>12} {"peak RSS build main/worker":>28} {"peak RSS epoch main/worker":>28}')
        for k, r in res.items():
            b, e = r['build'], r['epoch']
            print(f'  {k:>7} {b["images"] / b["seconds"]:>12.0f} {e["seconds"]:>8.1f} {e["images"] / e["seconds"]:>12.0f} '
                  f'{b["rss_main_mb"]:>16.0f} / {b["rss_worker_mb"]:<5.0f} MB {e["rss_main_mb"]:>16.0f} / {e["rss_worker_mb"]:<5.0f} MB')
        lo, hi = res[sizes[0]], res[sizes[-1]]
        growth = {f'{ph}_{k}': hi[ph][k] / lo[ph][k] for ph in ('build', 'epoch') for k in ('rss_main_mb', 'rss_worker_mb')}
        print(f'  peak RSS, {sizes[-1]} vs {sizes[0]} images: ' + ', '.join(f'{k} x{v:.2f}' for k, v in growth.items()))
        print(f'  resume: the build of {n} was killed with {at_kill} cached; run again it found {again["cached_before"]} and '
              f'decoded the other {again["images"] - again["cached_before"]} in {again["seconds"]:.0f} s '
              f'({(again["images"] - again["cached_before"]) / again["seconds"]:.0f} img/s)')
        print(json.dumps(dict(height=a.height, workers=a.workers, batch=a.batch, results={str(k): v for k, v in res.items()},
                              rss_growth=growth, resume=dict(killed_with=at_kill, rerun=again))))
    finally:
        if a.dir is None: shutil.rmtree(d, ignore_errors=True)

if __name__ == '__main__': main()
