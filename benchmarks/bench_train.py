#!/usr/bin/env python
"""Training throughput: this trainer's input pipeline against a loop in the original project's style, side by side in one run.

Both loops train the same model (ResNet50, random init) at the same input size, batch size and optimiser on the same
large JPEGs (generated like benchmarks/bench_cache.py: synthetic radiographs scaled up to about WIDTHxHEIGHT px):

* ours: `ImageCache` (decoded once; the one-off fill is timed separately), `XrayDataset` + `train_transform`, DataLoader;
  twice, in fp32 (`--amp off`) and, on CPUs with native bf16 instructions, in bf16 autocast with channels-last memory
  (what `--amp auto` trains with there);
* original style: torchvision `ImageFolder` decoding every file every epoch, `Resize` + `ColorJitter` + `ToTensor` +
  `Normalize`, DataLoader with the same number of workers.

For each: images/s, the share of the step time spent waiting for the next batch (issue 4's target for ours: <= 5%),
and the time of an epoch over the same images; then the ratio ours/original for each precision of ours (target: <= 0.5
on ~3000x5000 px images; the original loop trains in fp32, as the original project did).
Each loop runs `--batches` batches (the first is a warm-up, not timed), so an epoch time is extrapolated from the
per-image time over the N images. Prints the figures as one table and a JSON line.

Usage: python benchmarks/bench_train.py [--n 200] [--width 3000] [--height 5000] [--input 224x224] [--batches 6]
       [--batch 16] [--workers 0] [--dir DIR]"""
import argparse, json, os, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cache import generate   # the same large JPEGs as the cache benchmark

def loop(model, loader, steps, device='cpu', dtype=None, channels_last=False):
    "Train `steps` batches after one warm-up batch (autocast to `dtype` unless None); returns (images, seconds, seconds waiting for data)."
    import torch, torch.nn.functional as F
    if channels_last: model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train(); n = 0; wait = 0.0; t0 = None
    it = iter(loader); k = 0
    tprev = time.perf_counter()
    while k <= steps:
        try: x, y = next(it)
        except StopIteration: it = iter(loader); continue
        tgot = time.perf_counter()
        if k > 0: wait += tgot - tprev
        if k == 1: t0 = tprev
        if channels_last: x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast('cpu', dtype=dtype, enabled=dtype is not None): out = model(x)
        out = out.squeeze(1) if out.ndim == 2 and out.shape[1] == 1 else out[:, 1] if out.ndim == 2 else out
        loss = F.binary_cross_entropy_with_logits(out.float(), y.float())
        opt.zero_grad(); loss.backward(); opt.step()
        if k > 0: n += len(y)
        tprev = time.perf_counter(); k += 1
    return n, tprev - t0, wait

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--n', type=int, default=200); ap.add_argument('--width', type=int, default=3000); ap.add_argument('--height', type=int, default=5000)
    ap.add_argument('--input', default='224x224', help='model input HxW (letterboxed for ours, resized for the original style)')
    ap.add_argument('--batches', type=int, default=6); ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--workers', type=int, default=0, help='DataLoader workers for both loops')
    ap.add_argument('--dir', default=None, help='keep the generated JPEGs and the cache here (reused on the next run)')
    a = ap.parse_args()
    import torch, torchvision
    from torch.utils.data import DataLoader
    from torchvision import transforms as T
    from scoliosis_xray.data import ImageCache, XrayDataset, load_dataset, parse_size
    from scoliosis_xray.augment import train_transform
    from scoliosis_xray.model import build_model
    from scoliosis_xray.train import cpu_bf16_supported
    H, W = parse_size(a.input)
    d = Path(a.dir) if a.dir else Path(tempfile.mkdtemp(prefix='bench-train-'))
    d.mkdir(parents=True, exist_ok=True)
    gen = generate(d, a.n, a.width, a.height, max(1, os.cpu_count() or 1))
    if gen: print(f'generated {a.n} JPEGs of {a.width}x{a.height} px in {gen:.0f} s', flush=True)
    torch.manual_seed(0)
    res = {}
    # ours
    cache = ImageCache(d / 'cache', size=(H, W))
    df = load_dataset(d / 'jpeg')
    t = time.perf_counter(); ok, fails = cache.build(df, progress=False); fill = time.perf_counter() - t
    for name, dtype in [('ours_fp32', None)] + [('ours_bf16', torch.bfloat16)] * cpu_bf16_supported():
        torch.manual_seed(0)
        model, _ = build_model('resnet50', weights='none', dropout=0.2)
        g = torch.Generator().manual_seed(0)
        dl = DataLoader(XrayDataset(ok, cache, train_transform((H, W))), batch_size=a.batch, shuffle=True, generator=g, num_workers=a.workers, drop_last=True)
        n, dt, wait = loop(model, dl, a.batches, dtype=dtype, channels_last=dtype is not None)
        res[name] = dict(images_per_s=n / dt, data_wait_share=wait / dt, epoch_s=a.n * dt / n)
    # original style
    tf = T.Compose([T.Resize((H, W)), T.Grayscale(3), T.ColorJitter(0.2, 0.2, 0.2, 0.05), T.ToTensor(),
                    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    m2 = torchvision.models.resnet50(weights=None); m2.fc = torch.nn.Linear(2048, 1)
    dl2 = DataLoader(torchvision.datasets.ImageFolder(d / 'jpeg', transform=tf), batch_size=a.batch, shuffle=True,
                     generator=torch.Generator().manual_seed(0), num_workers=a.workers, drop_last=True)
    n2, dt2, wait2 = loop(m2, dl2, a.batches)
    res['original_style'] = dict(images_per_s=n2 / dt2, data_wait_share=wait2 / dt2, epoch_s=a.n * dt2 / n2)
    ratios = {k: res[k]['epoch_s'] / res['original_style']['epoch_s'] for k in res if k.startswith('ours')}
    print(f"\ntraining throughput, ResNet50, input {H}x{W}, batch {a.batch}, {a.workers} workers, {a.n} JPEGs of {a.width}x{a.height} px, "
          f"{a.batches} timed batches each, {torch.get_num_threads()} threads")
    print(f"{'loop':<16}{'images/s':>10}{'data wait':>11}{'epoch (s)':>11}")
    for k, v in res.items(): print(f"{k:<16}{v['images_per_s']:>10.2f}{100 * v['data_wait_share']:>10.1f}%{v['epoch_s']:>11.1f}")
    print(f"one-off cache fill (ours, before the first epoch): {fill:.1f} s")
    for k, r in ratios.items():
        print(f"epoch time ratio {k}/original: {r:.2f}  (target <= 0.50); data wait {k}: {100 * res[k]['data_wait_share']:.1f}% (target <= 5%)")
    if 'ours_bf16' in res: print(f"bf16 + channels-last / fp32 speed (ours): {res['ours_bf16']['images_per_s'] / res['ours_fp32']['images_per_s']:.2f}x")
    print(json.dumps(dict(input=[H, W], batch=a.batch, workers=a.workers, n=a.n, ratios=ratios, one_off_cache_fill_s=fill, **res)))

if __name__ == '__main__': main()
