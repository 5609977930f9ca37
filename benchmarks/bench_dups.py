"""Near-duplicate detection under re-crops (issue 11, item 9): how often a perturbed copy of a radiograph is grouped
with its original (target >= 95%) and how often distinct radiographs are grouped by mistake (target <= 1%), for the
audit's perceptual hash alone, for the audit's grouping (hash + `recrop_pairs`), and for candidate crop-tolerant
hashes; then the time of each step at 10,000 images.

    python benchmarks/bench_dups.py [--n 200] [--height 512] [--seed 0]
    python benchmarks/bench_dups.py --real DIR [--json benchmarks/results/dups_real.json]

`--real DIR`: the audit's grouping on a real landmark folder (AASCE layout: `data/`, `labels/`), whose file names give
each film's patient: how many re-crop pairs the coarse check alone finds and how many of them join two patients, and
the same with the fine-detail check (`detail_score`), with the groups each makes. Writes figures only (no file name).

Copies of synthetic films: cropped (up to 10% per side), rescaled (0.5-1.5x), re-encoded as JPEG (quality 60-90),
brightness/gamma changed (gamma 0.7-1.4, gain 0.8-1.2), and all four at once. The numbers are measured, not asserted."""
import argparse, io, tempfile, time
import numpy as np
from PIL import Image

from scoliosis_xray.synth import make_dataset, read_landmarks
from scoliosis_xray.data import (load_dataset, read_image, perceptual_hash, hash_distance, near_pairs, NEAR_DUP_BITS,
                                 crop_thumbnail, duplicate_clusters, recrop_pairs, recrop_score, _descriptor, _box_descriptors)

def perturb(a, kind, g):
    "A perturbed copy of the uint8 image `a`."
    h, w = a.shape
    if kind in ('crop', 'all'):
        l, r, t, b = (g.uniform(0, 0.10, 4) * [w, w, h, h]).astype(int)
        a = a[t:h - b, l:w - r]
    if kind in ('rescale', 'all'):
        s = g.uniform(0.5, 1.5); a = np.asarray(Image.fromarray(a).resize((max(8, int(a.shape[1] * s)), max(8, int(a.shape[0] * s))), Image.Resampling.BICUBIC))
    if kind in ('gamma', 'all'):
        a = np.clip(255 * g.uniform(0.8, 1.2) * (a / 255.0) ** g.uniform(0.7, 1.4), 0, 255).astype(np.uint8)
    if kind in ('jpeg', 'all'):
        buf = io.BytesIO(); Image.fromarray(a).save(buf, 'JPEG', quality=int(g.integers(60, 91))); a = np.asarray(Image.open(buf))
    return a

def centre_hash(img, frac=0.12, hash_size=8):
    "Candidate: a DCT hash of the image with `frac` of each side cut off (a crop of up to 10% per side keeps most of it)."
    h, w = img.shape
    c = img[int(h * frac):h - int(h * frac), int(w * frac):w - int(w * frac)]
    return perceptual_hash(c, hash_size)

METHODS = {'audit phash (256 bit, <= 26)': (lambda a: perceptual_hash(a), NEAR_DUP_BITS),
           'centre 76%, 64 bit (<= 10)': (lambda a: centre_hash(a, 0.12, 8), 10),
           'centre 76%, 64 bit (<= 14)': (lambda a: centre_hash(a, 0.12, 8), 14)}

GRID = (0.0, 0.035, 0.07, 0.105)     # crop fractions per side tried by the box-grid candidate (4**4 = 256 boxes)

def _thumb(img, width=96):
    h, w = img.shape
    return np.asarray(Image.fromarray(np.ascontiguousarray(img, dtype=np.float32)).resize((width, max(8, round(h * width / w))), Image.Resampling.BOX))

def _bits(t):
    return np.unpackbits(np.frombuffer(bytes.fromhex(perceptual_hash(t)), dtype=np.uint8))

def box_hashes(img):
    "Candidate: the 256-bit hash of each of `GRID`**4 crops of a 96-px-wide thumbnail (a copy's own hash lands near one)."
    t = _thumb(img); H, W = t.shape
    return np.array([_bits(t[int(a * H):H - int(b * H), int(l * W):W - int(r * W)]) for l in GRID for r in GRID for a in GRID for b in GRID])

def grid_candidate(imgs, pert, kinds, bits=32):
    "Box-grid rates: a copy is grouped when its full hash is within `bits` of one of its original's box hashes."
    t0 = time.perf_counter(); boxes = np.stack([box_hashes(im.astype(np.float32)) for im in imgs]); ms = 1000 * (time.perf_counter() - t0) / len(imgs)
    full = np.stack([_bits(_thumb(im.astype(np.float32))) for im in imgs])
    got = {k: np.mean([(boxes[i] != _bits(_thumb(c.astype(np.float32)))).sum(-1).min() <= bits for (i, kk), c in pert.items() if kk == k]) for k in kinds}
    d = np.array([(boxes != f).sum(-1).min(-1) for f in full]); np.fill_diagonal(d, 10**6)
    return got, float(np.mean(d.min(1) <= bits)), ms

def rates(orig, copies, kinds, max_bits):
    "Share of copies within `max_bits` of their original, per kind; share of originals within `max_bits` of another original."
    got = {k: np.mean([hash_distance(orig[i], c) <= max_bits for (i, kk), c in copies.items() if kk == k]) for k in kinds}
    pairs, _ = near_pairs(orig, max_bits)
    return got, len(set(pairs.ravel().tolist())) / len(orig)

def real_folder(src, out=None):
    "The audit's re-crop step on a real landmark folder, with and without the detail check; figures as a dict (and JSON at `out`)."
    import json, os, platform
    from pathlib import Path
    from datetime import date
    from scoliosis_xray.cobb_train import landmark_table
    from scoliosis_xray.data import ImageCache, detail_score, RECROP_DETAIL, RECROP_SCORE
    df = landmark_table(src, keep_unusable=True)
    cache = ImageCache(size=(512, 256))
    t0 = time.perf_counter(); ok, fails = cache.build(df, progress=False); t_build = time.perf_counter() - t0
    th = [cache.thumbnail(p) for p in ok['path']]
    pid = ok['patient_id'].astype(str).to_numpy()
    res = dict(benchmark='bench_dups --real', date=str(date.today()), data=Path(src).name, films=len(ok), unreadable=len(fails),
               patients=int(len(set(pid))), recrop_score=RECROP_SCORE, recrop_detail=RECROP_DETAIL, decode_seconds=round(t_build, 1),
               machine=dict(cpu_count=os.cpu_count(), platform=platform.platform(terse=True)))
    for name, md in (('coarse check only', -1.0), ('coarse and detail checks (the audit)', RECROP_DETAIL)):
        t0 = time.perf_counter(); pairs, scores = recrop_pairs(th, min_detail=md); t = time.perf_counter() - t0
        cross = np.array([pid[i] != pid[j] for i, j in pairs], dtype=bool)
        det = np.array([detail_score(th[i], th[j]) for i, j in pairs]) if len(pairs) else np.zeros(0)
        cl = duplicate_clusters(list(ok['phash']), list(ok['sha256']), list(pid), recrops=pairs)
        sizes = np.bincount(cl)
        res[name] = dict(pairs=int(len(pairs)), pairs_across_patients=int(cross.sum()), groups=int(len(sizes)), largest_group=int(sizes.max()),
                         films_in_largest_share=round(float(sizes.max() / len(cl)), 3), seconds=round(t, 1),
                         detail_of_cross_patient_pairs=dict(median=float(np.median(det[cross])) if cross.any() else None,
                                                            max=float(det[cross].max()) if cross.any() else None))
    print(json.dumps(res, indent=1))
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True); Path(out).write_text(json.dumps(res, indent=1) + '\n'); print(f'wrote {out}')
    return res

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--real', default=None, metavar='DIR', help='measure the re-crop grouping on a real landmark folder instead (AASCE layout)')
    ap.add_argument('--json', default='benchmarks/results/dups_real.json', help='with --real: where the figures go')
    ap.add_argument('--n', type=int, default=200); ap.add_argument('--height', type=int, default=512); ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--grid', action='store_true', help='also measure the box-grid candidate (slow: 256 hashes per image)')
    a = ap.parse_args(argv)
    if a.real: return real_folder(a.real, a.json)
    with tempfile.TemporaryDirectory() as d:
        make_dataset(f'{d}/syn', n=a.n, seed=a.seed, height=a.height, progress=False)
        imgs = [read_image(p).astype(np.uint8) for p in load_dataset(f'{d}/syn').path]
    g, kinds = np.random.default_rng(a.seed), ('crop', 'rescale', 'jpeg', 'gamma', 'all')
    pert = {(i, k): perturb(im, k, g) for i, im in enumerate(imgs) for k in kinds}
    print(f'{len(imgs)} synthetic films ({a.height} px tall), {len(pert)} perturbed copies\n')
    print(f'{"method":32}' + ''.join(f'{k:>9}' for k in kinds) + f'{"distinct grouped":>18}{"hash ms/img":>13}')
    for name, (fn, bits) in METHODS.items():
        t0 = time.perf_counter(); orig = [fn(im.astype(np.float32)) for im in imgs]; ms = 1000 * (time.perf_counter() - t0) / len(imgs)
        copies = {k: fn(v.astype(np.float32)) for k, v in pert.items()}
        got, false = rates(orig, copies, kinds, bits)
        print(f'{name:32}' + ''.join(f'{got[k]:>9.1%}' for k in kinds) + f'{false:>18.1%}{ms:>13.1f}')
    # the audit's grouping: originals and every copy clustered together, as the audit and the splits do
    keys = list(range(len(imgs))) + list(pert)
    allimg = imgs + list(pert.values())
    t0 = time.perf_counter(); th = [crop_thumbnail(im.astype(np.float32)) for im in allimg]; t_thumb = (time.perf_counter() - t0) / len(th)
    ph = [perceptual_hash(im.astype(np.float32)) for im in allimg]
    t0 = time.perf_counter(); cl = duplicate_clusters(ph, thumbs=th); t_cl = time.perf_counter() - t0
    got = {k: np.mean([cl[len(imgs) + m] == cl[key[0]] for m, key in enumerate(keys[len(imgs):]) if key[1] == k]) for k in kinds}
    orig = cl[:len(imgs)]; false = np.mean([np.sum(orig == c) > 1 for c in orig])
    print(f'{"audit grouping (hash + re-crop)":32}' + ''.join(f'{got[k]:>9.1%}' for k in kinds) + f'{false:>18.1%}{1000 * t_thumb:>13.1f}')
    print(f'   all copies at once: {np.mean([cl[len(imgs) + m] == cl[key[0]] for m, key in enumerate(keys[len(imgs):])]):.1%} grouped with their original; '
          f'{len(th)} images clustered in {t_cl:.1f} s')
    # time at 10,000 images: the candidate step on 10,000 thumbnails (copies of these films, slightly jittered), and the check per pair
    g2 = np.random.default_rng(a.seed + 1)
    big = [np.clip(th[i % len(th)].astype(np.int16) + g2.integers(-3, 4, th[i % len(th)].shape), 0, 255).astype(np.uint8) for i in range(10_000)]
    t0 = time.perf_counter(); q = np.stack([_descriptor(t / 255) for t in big]); B = np.stack([_box_descriptors(t / 255) for t in big]); t_desc = time.perf_counter() - t0
    B = B.reshape(-1, B.shape[-1]); t0 = time.perf_counter()
    for s in range(0, len(big), 32): (q[s:s + 32] @ B.T).reshape(-1, len(big), 81).max(-1)
    t_sim = time.perf_counter() - t0
    t0 = time.perf_counter(); [recrop_score(th[i], th[i + 1]) for i in range(50)]; t_pair = (time.perf_counter() - t0) / 50
    ncand = len(recrop_pairs(th[:len(imgs)], min_score=-1)[0])       # pairs of distinct films that reach the check
    print(f'\nat 10,000 images: thumbnails {10_000 * t_thumb:.0f} s (while decoding), descriptors {t_desc:.0f} s, candidate search {t_sim:.0f} s, '
          f'check {1000 * t_pair:.0f} ms per pair; distinct films sent to the check: {ncand / len(imgs):.2f} per image '
          f'(about {10_000 * ncand / len(imgs) * t_pair:.0f} s at 10,000, plus each true copy)')
    if a.grid:
        for bits in (26, 32):
            got, false, ms = grid_candidate(imgs, pert, kinds, bits)
            print(f'{f"box grid 256 x 256 bit (<= {bits})":32}' + ''.join(f'{got[k]:>9.1%}' for k in kinds) + f'{false:>18.1%}{ms:>13.1f}')
    rng = np.random.default_rng(1)
    hashes = [rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex() for _ in range(10_000)]
    t0 = time.perf_counter(); near_pairs(hashes, NEAR_DUP_BITS); t = time.perf_counter() - t0
    print(f'\nall pairs of 10,000 256-bit hashes compared in {t:.1f} s (near_pairs, blocks of 512)')

if __name__ == '__main__': main()
