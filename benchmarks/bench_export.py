#!/usr/bin/env python
"""Inference throughput on the CPU: the checkpoint's model in PyTorch (as `predict` runs it) against its ONNX export in
onnxruntime (as `predict --model model.onnx` runs it), side by side in one run.

A ResNet50 checkpoint (random initialisation, seeded, its head scaled so that probabilities spread around 0.5, with
out-of-distribution statistics like a trained run's) is
written, exported with `export_model`, and both engines score the same batches of B x 1 x H x W inputs with the same
number of threads: PyTorch through `predict_logits` plus the features' `ood_scores` (what `predict` computes per
batch), onnxruntime through `ExportedModel` (logits and scores in one graph). Batches alternate between the engines,
so load from other processes hits both alike; each engine's first batch is a warm-up. Rows: PyTorch fp32 (what
`predict` uses on a CPU unless the run trained with `--amp bf16`), PyTorch bf16 autocast (where the CPU has native
bf16), onnxruntime at each graph optimisation level asked for. The ratio is images/s over PyTorch fp32's; target
>= 1.5. Also prints the largest probability difference between onnxruntime and PyTorch fp32, and a JSON line.

Usage: python benchmarks/bench_export.py [--backbone resnet50] [--size 512x256] [--batch 8] [--batches 6]
       [--threads N] [--levels all,basic] [--dir DIR]"""
import argparse, json, statistics, sys, tempfile, time
from pathlib import Path

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--backbone', default='resnet50')
    ap.add_argument('--size', default='512x256', help='model input HxW (the default preprocessing size)')
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--batches', type=int, default=6, help='timed batches per engine (after one warm-up batch)')
    ap.add_argument('--threads', type=int, default=None, help='intra-op threads of both engines (default: torch.get_num_threads())')
    ap.add_argument('--levels', default='all', help='onnxruntime graph optimisation levels to time: all, extended, basic, disabled (comma separated)')
    ap.add_argument('--dir', default=None, help='scratch folder (default: a temporary one)')
    a = ap.parse_args(argv)
    import numpy as np, torch, onnxruntime as ort
    from scoliosis_xray.model import build_model, fit_ood, ood_scores
    from scoliosis_xray.run import Checkpoint, PreprocessSpec, save_checkpoint
    from scoliosis_xray.train import predict_logits, cpu_bf16_supported
    from scoliosis_xray.export import export_model, load_export, ExportedModel
    H, W = (int(v) for v in a.size.lower().split('x'))
    threads = a.threads or torch.get_num_threads()
    torch.set_num_threads(threads); torch.manual_seed(0)
    work = Path(a.dir or tempfile.mkdtemp(prefix='bench-export-')); work.mkdir(parents=True, exist_ok=True)

    model, _ = build_model(a.backbone, weights='none'); model.eval()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        feats = model.features(torch.rand(48, 1, H, W, generator=g))
        z = model.head(feats).squeeze(1)                # a random head's logits are huge (probabilities 0 or 1, no difference to see):
        model.head.fc.weight /= z.std(); model.head.fc.bias.copy_((model.head.fc.bias - z.mean()) / z.std())   # scaled to about N(0, 1)
        feats = feats.numpy()
    ck = Checkpoint(model=model.state_dict(), backbone=a.backbone, dropout=0.2, classes=['Normal', 'Scoliosis'],
                    preprocess=PreprocessSpec(size=(H, W)), threshold=0.5, epoch=1, config=dict(amp='auto'), state=dict(ood=fit_ood(feats)))
    ck_path = save_checkpoint(ck, work / 'best.pt')
    t = time.perf_counter(); r = export_model(ck_path, work / 'model.onnx', 'onnx', overwrite=True); t_export = time.perf_counter() - t
    ood, cpu = ck.state['ood'], torch.device('cpu')
    hook_feats = []
    model.head.register_forward_pre_hook(lambda m, args: hook_feats.append(args[0].detach().float().numpy()))

    def eager(amp):
        def run(x):
            hook_feats.clear()
            p = torch.sigmoid(predict_logits(model, x, cpu, amp)).numpy()
            return p, ood_scores(ood, hook_feats[0])
        return run
    def onnx(level):
        em = load_export(work / 'model.onnx', 'cpu', threads)
        if level != 'all':                          # another graph optimisation level: a session of its own
            so = ort.SessionOptions(); so.intra_op_num_threads = threads; so.log_severity_level = 3
            so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, f'ORT_ENABLE_{level.upper()}' if level != 'disabled' else 'ORT_DISABLE_ALL')
            em.session = ort.InferenceSession(str(work / 'model.onnx'), so, providers=['CPUExecutionProvider'])
        def run(x):
            logit, o = em(x)
            return torch.sigmoid(torch.from_numpy(logit)).numpy(), o
        return run

    engines = {'PyTorch fp32 (predict)': eager('off')}
    if cpu_bf16_supported(): engines['PyTorch bf16 autocast'] = eager('bf16')
    for lv in a.levels.split(','): engines[f'onnxruntime ({lv} optimisations)'] = onnx(lv.strip())
    times = {k: [] for k in engines}
    x0 = torch.rand(a.batch, 1, H, W, generator=g)
    ref = engines['PyTorch fp32 (predict)'](x0)[0]
    diff = {k: float(np.abs(f(x0)[0] - ref).max()) for k, f in engines.items()}      # also the warm-up batch
    for i in range(a.batches):
        x = torch.rand(a.batch, 1, H, W, generator=g)
        for k, f in engines.items():
            t = time.perf_counter(); f(x); times[k].append(time.perf_counter() - t)
    base = a.batch / statistics.median(times['PyTorch fp32 (predict)'])
    rows = []
    for k in engines:
        ips = a.batch / statistics.median(times[k])
        rows.append(dict(engine=k, threads=threads, images_per_s=round(ips, 2), ratio=round(ips / base, 2), max_prob_diff=diff[k]))
    print(f'{a.backbone} at {H}x{W}, batch {a.batch}, {a.batches} timed batches per engine (median), {threads} thread(s); '
          f'export took {t_export:.1f} s (its own parity check: {r["max_abs_diff"]:.1g})')
    print(f'{"engine":<34} {"img/s":>8} {"x fp32":>7} {"max |dp| vs fp32":>17}')
    for row in rows: print(f'{row["engine"]:<34} {row["images_per_s"]:>8.2f} {row["ratio"]:>7.2f} {row["max_prob_diff"]:>17.1e}')
    best = max((r_ for r_ in rows if r_['engine'].startswith('onnxruntime')), key=lambda r_: r_['ratio'])
    print(f'onnxruntime / PyTorch fp32: {best["ratio"]:.2f}x (target >= 1.5: {"met" if best["ratio"] >= 1.5 else "NOT met"})')
    print(json.dumps(dict(backbone=a.backbone, size=[H, W], batch=a.batch, rows=rows)))
    if a.dir is None:
        import shutil; shutil.rmtree(work, ignore_errors=True)

if __name__ == '__main__': main(sys.argv[1:])
