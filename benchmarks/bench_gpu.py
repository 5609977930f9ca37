#!/usr/bin/env python
"""GPU training throughput of the trainer's model step: ScoliosisNet (ResNet50), AdamW, autocast (bf16 where the GPU
supports it, else fp16 with a scaler) and channels_last, exactly as `scoliosis_xray.train` sets them up on CUDA.

Measures images/s at 224x224 and at the default tall input 512x256, batch 128, on inputs already on the GPU (so the
figure is the model step's; the data pipeline is measured on the CPU by bench_train.py). Also prints the fp32
baseline in the same process. Issue 4's target: >= 2500 images/s at 224 on an H100 (NVIDIA's published ResNet50 AMP
figure on an A100 is about 2470 images/s).

Usage: python benchmarks/bench_gpu.py [--batch 128] [--steps 30] [--warmup 10]"""
import argparse, json, time

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--batch', type=int, default=128); ap.add_argument('--steps', type=int, default=30); ap.add_argument('--warmup', type=int, default=10)
    a = ap.parse_args()
    import torch, torch.nn.functional as F
    from scoliosis_xray.model import build_model
    from scoliosis_xray.train import amp_dtype, resolve_device
    if not torch.cuda.is_available(): raise SystemExit('no CUDA device: this benchmark is for a GPU machine')
    dev = resolve_device('cuda'); torch.backends.cudnn.benchmark = True
    out = []
    for size in [(224, 224), (512, 256)]:
        for amp in ('auto', 'off'):
            model, _ = build_model('resnet50', weights='none'); model = model.to(dev).to(memory_format=torch.channels_last).train()
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
            dt = amp_dtype(dev, amp)
            scaler = torch.amp.GradScaler('cuda', enabled=dt == torch.float16)
            x = torch.rand(a.batch, 1, *size, device=dev).contiguous(memory_format=torch.channels_last)
            y = (torch.rand(a.batch, device=dev) > 0.5).float()
            def step():
                with torch.autocast('cuda', dtype=dt, enabled=dt is not None):
                    loss = F.binary_cross_entropy_with_logits(model(x).float(), y)
                opt.zero_grad(set_to_none=True); scaler.scale(loss).backward(); scaler.step(opt); scaler.update()
            for _ in range(a.warmup): step()
            torch.cuda.synchronize(); t = time.perf_counter()
            for _ in range(a.steps): step()
            torch.cuda.synchronize(); s = time.perf_counter() - t
            r = dict(size=list(size), amp=str(dt).replace('torch.', '') if dt else 'fp32', batch=a.batch, images_per_s=a.steps * a.batch / s,
                     peak_mem_gb=torch.cuda.max_memory_allocated() / 2**30)
            out.append(r); torch.cuda.reset_peak_memory_stats()
            print(f"{size[0]}x{size[1]:<4} {r['amp']:>5}  {r['images_per_s']:8.0f} images/s  peak {r['peak_mem_gb']:.1f} GiB", flush=True)
    print(f"device: {torch.cuda.get_device_name()}  torch {torch.__version__}")
    print(json.dumps(out))

if __name__ == '__main__': main()
