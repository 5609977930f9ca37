#!/usr/bin/env python
"""Synthetic radiograph throughput: images/s for `make_dataset` (rendering + PNG writing) with all cores.

Usage: python benchmarks/bench_synth.py [--n 200] [--height 1024] [--workers N]
Target (issue 2): at least 20 images/s on 2 cores at about 1024 px tall. Prints one line per setting."""
import argparse, os, tempfile, time
from scoliosis_xray.synth import make_dataset

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument('--n', type=int, default=200); ap.add_argument('--height', type=int, default=1024)
ap.add_argument('--workers', type=int, default=None)
a = ap.parse_args()
cores = os.cpu_count()
for workers in ([a.workers] if a.workers else sorted({1, cores})):
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        make_dataset(d, n=a.n, seed=0, height=a.height, workers=workers, progress=False)
        dt = time.perf_counter() - t
    print(f'synth: {a.n} images, {a.height} px tall, {workers} worker(s) on {cores} cores: {a.n / dt:.1f} images/s ({dt:.1f} s)')
