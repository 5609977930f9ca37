#!/usr/bin/env python
"""Decode-once cache against decoding every file, side by side in one run.

Generates N grayscale JPEGs of about WIDTHxHEIGHT px (synthetic radiographs scaled up, with film-grain noise so that
they compress like real films), then times, each in a fresh process on the same files:
  1. filling the `ImageCache` (the one-off decode + resize),
  2. one epoch of `XrayDataset` from the filled cache through a DataLoader,
  3. one epoch of torchvision's `ImageFolder` + `Resize` through the same DataLoader settings (every file decoded).
Prints both epoch times, their ratio (issue 3's target: at least 10x) and the peak memory of each step.

Usage: python benchmarks/bench_cache.py [--n 200] [--width 3000] [--height 5000] [--workers 2] [--batch 16] [--dir DIR]
Without --dir the files go to a temporary folder that is deleted afterwards; with --dir they are kept and reused."""
import argparse, json, os, resource, shutil, subprocess, sys, tempfile, time
from pathlib import Path

def _make(job):
    i, out, width, height = job
    import numpy as np
    from PIL import Image
    from scoliosis_xray.synth import synth_image
    pix, rec, _ = synth_image(0, i, height=1024)
    img = np.asarray(Image.fromarray(pix).resize((width, height), Image.Resampling.BICUBIC), dtype=np.float32)
    img += np.random.default_rng(i).standard_normal(img.shape, dtype=np.float32) * np.float32(3.0)
    path = Path(out) / rec['label'] / f'film_{i:04d}.jpg'
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path, quality=90)
    return path.stat().st_size

def generate(d, n, width, height, workers):
    from concurrent.futures import ProcessPoolExecutor
    marker = d / 'jpeg' / 'done.json'
    want = dict(n=n, width=width, height=height, version=1)
    if marker.exists() and json.loads(marker.read_text()) == want: return 0.0
    shutil.rmtree(d / 'jpeg', ignore_errors=True)
    for c in ('Normal', 'Scoliosis'): (d / 'jpeg' / c).mkdir(parents=True)
    t = time.perf_counter()
    with ProcessPoolExecutor(workers) as ex: list(ex.map(_make, [(i, d / 'jpeg', width, height) for i in range(n)], chunksize=4))
    marker.write_text(json.dumps(want))
    return time.perf_counter() - t

def _peak():
    kb = lambda who: resource.getrusage(who).ru_maxrss / 1024
    return dict(rss_main_mb=kb(resource.RUSAGE_SELF), rss_worker_mb=kb(resource.RUSAGE_CHILDREN))

def phase(name, d, workers, batch, size):
    "One measured step, in this (fresh) process; prints one JSON line."
    from scoliosis_xray.data import ImageCache, XrayDataset, load_dataset
    cache = ImageCache(d / 'cache', size=size)
    if name == 'build':
        df = load_dataset(d / 'jpeg')
        t = time.perf_counter(); ok, fails = cache.build(df, workers=workers, progress=False); dt = time.perf_counter() - t
        assert len(fails) == 0, fails
        n = len(ok)
    else:
        import torch
        from torch.utils.data import DataLoader
        torch.set_num_threads(1)
        if name == 'cache':
            ds = XrayDataset(load_dataset(d / 'jpeg'), cache)
        else:
            from torchvision.datasets import ImageFolder
            from torchvision.transforms import Compose, Resize, ToTensor
            ds = ImageFolder(str(d / 'jpeg'), transform=Compose([Resize(size), ToTensor()]))
        dl = DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers, generator=torch.Generator().manual_seed(0))
        t = time.perf_counter(); n = 0; shape = None
        for x, y in dl: n += len(y); shape = tuple(x.shape[1:])
        dt = time.perf_counter() - t
        del dl
    print(json.dumps(dict(phase=name, seconds=dt, images=n, **({'shape': shape} if name != 'build' else {}), **_peak())))

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--n', type=int, default=200); ap.add_argument('--width', type=int, default=3000)
    ap.add_argument('--height', type=int, default=5000); ap.add_argument('--workers', type=int, default=os.cpu_count() or 1)
    ap.add_argument('--batch', type=int, default=16); ap.add_argument('--dir', type=Path, default=None)
    ap.add_argument('--phase', default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    from scoliosis_xray.data import DEFAULT_SIZE
    if a.phase: return phase(a.phase, a.dir, a.workers, a.batch, DEFAULT_SIZE)
    d = a.dir or Path(tempfile.mkdtemp(prefix='bench-cache-'))
    try:
        t_gen = generate(d, a.n, a.width, a.height, a.workers)
        files = sorted((d / 'jpeg').glob('*/*.jpg'))
        mb = sum(f.stat().st_size for f in files) / 1e6
        print(f'bench_cache: {len(files)} grayscale JPEGs of {a.width}x{a.height} px, {mb / len(files):.1f} MB each, {mb:.0f} MB '
              f'in all' + (f' (generated in {t_gen:.0f} s)' if t_gen else ' (reused)') + f'; {os.cpu_count()} cores')
        print(f'DataLoader: batch {a.batch}, {a.workers} workers, shuffled; output {DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]}; '
              'each step in a fresh process, one after the other in this run')
        shutil.rmtree(d / 'cache', ignore_errors=True)
        res = {}
        for name in ('build', 'cache', 'imagefolder'):
            r = subprocess.run([sys.executable, __file__, '--phase', name, '--dir', str(d), '--workers', str(a.workers),
                                '--batch', str(a.batch)], capture_output=True, text=True)
            if r.returncode: sys.exit(f'{name} failed:\n{r.stderr[-3000:]}')
            res[name] = json.loads(r.stdout.strip().splitlines()[-1])
        labels = dict(build='cache build (one-off decode + resize)', cache='epoch from the cache (XrayDataset)',
                      imagefolder='epoch decoding every file (ImageFolder + Resize)')
        print(f'  {"step":<50}{"time":>9}{"per image":>12}   peak RSS: main / largest worker (shared pages included)')
        for k, r in res.items():
            print(f'  {labels[k]:<50}{r["seconds"]:>8.2f}s{r["seconds"] / r["images"] * 1e3:>9.1f} ms'
                  f'   {r["rss_main_mb"]:>6.0f} MB / {r["rss_worker_mb"]:.0f} MB' + (f'   batches of {r["shape"]}' if 'shape' in r else ''))
        ratio = res['imagefolder']['seconds'] / res['cache']['seconds']
        print(f'  ratio, ImageFolder epoch / cached epoch: {ratio:.0f}x (target >= 10x: {"met" if ratio >= 10 else "NOT met"}); '
              f'building the cache costs {res["build"]["seconds"] / res["imagefolder"]["seconds"]:.1f} ImageFolder epochs, once')
    finally:
        if a.dir is None: shutil.rmtree(d, ignore_errors=True)

if __name__ == '__main__': main()
