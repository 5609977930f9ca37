#!/usr/bin/env python
"""Landmark-model speed: training images/s and the projected time of a 481-image epoch (the AASCE training split) of
real-size films (about 1000 x 2500 px, JPEG), per input size, backbone and precision, in one run on this machine.

Films are decoded once into the cache (timed separately: it is paid once per dataset, not per epoch), so an epoch is
augmentation + forward + backward. Ratios against the fp32 ResNet18 512x256 row are printed, not only seconds.

    python benchmarks/bench_cobb.py [--films 24] [--batches 4] [--sizes 384x192,512x256,768x384,1024x512]
"""
import argparse, os, tempfile, time, shutil
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from scoliosis_xray.synth import synth_image
from scoliosis_xray.data import ImageCache
from scoliosis_xray.augment import train_transform
from scoliosis_xray.train import cpu_bf16_supported
from scoliosis_xray.landmark_model import build_spine_net, landmark_loss, LandmarkDataset
import pandas as pd


def films(folder, n, height=2500):
    rows = []
    for i in range(n):
        pix, rec, lm = synth_image(100 + i, label='Scoliosis' if i % 2 else 'Normal', height=height)
        f = folder / f'film{i:03d}.jpg'
        Image.fromarray(pix if pix.dtype == np.uint8 else (pix >> 8).astype(np.uint8)).save(f, quality=92)
        rows.append(dict(file=str(f), points=lm.reshape(-1, 2)))
    return pd.DataFrame(rows)


def bench(df, cache, backbone, size, amp, batches, batch_size=8):
    torch.manual_seed(0)
    m, _ = build_spine_net(backbone, weights='none'); m.train()
    opt = torch.optim.AdamW(m.parameters(), 1e-3)
    ds = LandmarkDataset(df, cache, train_transform(size, strength=1.0))
    dl = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=True, drop_last=True)
    dt = torch.bfloat16 if amp == 'bf16' else None
    times, n = [], 0
    it = iter(dl)
    for b in range(batches + 1):
        try: x, q = next(it)
        except StopIteration: it = iter(dl); x, q = next(it)
        t = time.perf_counter()
        with torch.autocast('cpu', dtype=dt, enabled=dt is not None): out = m(x).float()
        loss = landmark_loss(out, q); opt.zero_grad(); loss.backward(); opt.step()
        if b: times.append(time.perf_counter() - t); n += len(x)      # the first batch warms up
    return n / sum(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--films', type=int, default=24)
    ap.add_argument('--batches', type=int, default=4)
    ap.add_argument('--sizes', default='384x192,512x256,768x384,1024x512')
    ap.add_argument('--backbones', default='resnet18,resnet34')
    a = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    work = Path(tempfile.mkdtemp(prefix='bench-cobb-'))
    try:
        df = films(work, a.films)
        h, w = Image.open(df.file[0]).size[::-1]
        print(f'{a.films} synthetic films of {w} x {h} px (JPEG), {torch.get_num_threads()} CPU threads, bf16 native: {cpu_bf16_supported()}')
        rows, base = [], None
        for size in [tuple(int(v) for v in s.split('x')) for s in a.sizes.split(',')]:
            cache = ImageCache(work / 'cache', size=size)
            t = time.perf_counter(); cache.build(df.assign(path=df.file, label='Normal'), progress=False); decode = (time.perf_counter() - t) / len(df)
            for bb in a.backbones.split(','):
                for amp in (['off', 'bf16'] if cpu_bf16_supported() else ['off']):
                    ips = bench(df, cache, bb, size, amp, a.batches)
                    if (bb, size, amp) == ('resnet18', (512, 256), 'off'): base = ips
                    rows.append(dict(size=f'{size[0]}x{size[1]}', backbone=bb, precision=amp, images_per_s=ips, epoch_481_s=481 / ips,
                                     cache_build_s_per_film=decode))
        t = pd.DataFrame(rows)
        if base: t['speed_vs_r18_512_fp32'] = t.images_per_s / base
        pd.set_option('display.width', 160)
        print(t.round(3).to_string(index=False))
        print('epoch_481_s: projected seconds of one epoch over 481 training films (cache built); target <= 180 s on 2 CPU cores')
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
