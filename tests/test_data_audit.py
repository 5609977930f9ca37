"""Issue 3's done-when, end to end: `scoliosis-xray audit` as a user runs it (subprocesses), bad input that must not
stop a dataset from loading, and splits that never put a copy of an image on both sides."""
import hashlib, json, os, shutil, struct, subprocess, sys, zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from scoliosis_xray.synth import make_dataset
from scoliosis_xray.data import (ImageCache, NEAR_DUP_BITS, SHORTCUT_AUC, audit, bad_file_corpus, format_audit, hash_distance,
                                 kfold_splits, load_dataset, load_splits, make_splits, perceptual_hash, read_image, save_splits)

EXE = Path(sys.executable).parent / 'scoliosis-xray'

def audit_cli(data, tmp_path, *extra):
    "Run `scoliosis-xray audit` with its own cache; returns (completed process, JSON report or None)."
    js = tmp_path / f'audit-{Path(data).name}.json'
    r = subprocess.run([str(EXE), 'audit', str(data), '--json', str(js), '--cache', str(tmp_path / 'cache'), '--quiet', *extra],
                       capture_output=True, text=True, env=dict(os.environ, SCOLIOSIS_XRAY_HOME=str(tmp_path / 'home')))
    return r, (json.loads(js.read_text()) if js.exists() else None)

@pytest.fixture(scope='module')
def synthetic(tmp_path_factory):
    d = tmp_path_factory.mktemp('syn') / 'data'
    make_dataset(d, n=60, seed=0, height=512, progress=False)
    return d

def test_audit_no_shortcut_on_synthetic_and_warning_when_normals_are_narrower(synthetic, tmp_path):
    r, rep = audit_cli(synthetic, tmp_path)
    assert r.returncode == 0, r.stderr
    assert 'no shortcut: metadata does not predict the label' in r.stdout and 'WARNING' not in r.stdout, r.stdout
    assert rep['n_readable'] == 60 and rep['classes'] == {'Normal': 30, 'Scoliosis': 30}
    assert rep['shortcut']['auc'] < SHORTCUT_AUC and not rep['shortcut']['shortcut']
    # the original project's problem: Normal films exported as narrow crops, Scoliosis films full width
    narrow = tmp_path / 'narrow'
    for f in sorted(synthetic.glob('*/*.png')):
        a = np.asarray(Image.open(f)); (narrow / f.parent.name).mkdir(parents=True, exist_ok=True)
        if f.parent.name == 'Normal': a = a[:, int(a.shape[1] * 0.15): int(a.shape[1] * 0.85)]
        Image.fromarray(a).save(narrow / f.parent.name / f.name)
    r, rep = audit_cli(narrow, tmp_path)
    assert r.returncode == 0, r.stderr
    s = rep['shortcut']
    assert s['shortcut'] and s['auc'] >= SHORTCUT_AUC and s['ci'][0] > 0.5, s
    assert 'WARNING SHORTCUT' in r.stdout and 'without looking at the spine' in r.stdout and 'single source' in r.stdout
    assert 'common geometry' in r.stdout and s['verdict'] in rep['warnings']

def test_every_bad_input_is_named_with_its_reason_and_the_rest_loads(synthetic, tmp_path):
    d = tmp_path / 'mixed'
    good, bad = bad_file_corpus(d, sorted(synthetic.glob('Normal/*.png'))[:8] + sorted(synthetic.glob('Scoliosis/*.png'))[:8])
    expect = {p.name: why for p, why in bad.items()}
    (d / 'Extra').mkdir()                                  # an empty class folder, mapped below: a problem, not an error
    r, rep = audit_cli(d, tmp_path, '--class-map', 'Normal=Normal,Scoliosis=Scoliosis,Extra=Scoliosis')
    assert r.returncode == 0 and 'Traceback' not in r.stderr, r.stderr
    assert rep['n_readable'] == len(good) and rep['n_unreadable'] == len(expect)
    for name, why in expect.items():
        line = next(l for l in r.stdout.splitlines() if l.strip().startswith(('Normal/' + name, 'Scoliosis/' + name)))
        assert why in line, (name, line)
        assert any(u['path'].endswith(name) and why in u['reason'] for u in rep['unreadable'])
    assert 'Extra: class folder is empty' in r.stdout
    # a CSV manifest with a missing file and an unknown label: named, the rest loads
    rows = [(f'{f.parent.name}/{f.name}', f.parent.name) for f in sorted(d.glob('*/*')) if f.name not in expect]
    man = pd.DataFrame(rows + [('Normal/gone.png', 'Normal'), (rows[0][0], 'kyphosis')], columns=['path', 'label'])
    man.to_csv(d / 'manifest.csv', index=False)
    rep = audit(d / 'manifest.csv', cache=ImageCache(tmp_path / 'cache'), progress=False)   # in-process this time
    out = format_audit(rep)
    assert rep['n_readable'] == len(good) and rep['n_unreadable'] == 0
    assert f'Normal/gone.png: manifest.csv row {len(rows) + 1}: file not found' in out, out
    assert f"manifest.csv row {len(rows) + 2}: unknown label 'kyphosis'" in out
    # a folder with one class only is an error, one line, no traceback
    one = tmp_path / 'one'; shutil.copytree(d / 'Normal', one / 'Normal'); (one / 'Scoliosis').mkdir()
    r, rep = audit_cli(one, tmp_path)
    assert r.returncode == 2 and rep is None and 'Traceback' not in r.stderr
    assert 'two classes are needed (Normal and Scoliosis), but only Normal has images' in r.stderr, r.stderr

def test_splits_never_put_copies_or_patients_on_both_sides(tmp_path):
    d = tmp_path / 'data'
    make_dataset(d, n=80, seed=4, height=512, images_per_patient=2, progress=False)   # 40 patients, 2 films each
    rng = np.random.default_rng(0)
    files = sorted(d.glob('*/*.png'))
    for k, f in enumerate(files[:20]):
        a = np.asarray(Image.open(f)).astype(float)
        target = d / ('Scoliosis' if f.parent.name == 'Normal' else 'Normal') if k % 5 == 4 else f.parent   # some cross classes
        kind = k % 4
        if kind == 0: Image.fromarray(a.astype(np.uint8)).save(target / f'copy{k}.jpg', quality=70)
        elif kind == 1: Image.fromarray(a.astype(np.uint8)).resize((a.shape[1] * 2 // 3, a.shape[0] * 2 // 3)).save(target / f'copy{k}.png')
        elif kind == 2: Image.fromarray(np.clip(a * 1.2 - 10 + rng.normal(0, 4, a.shape), 0, 255).astype(np.uint8)).save(target / f'copy{k}.png')
        else: shutil.copy(f, target / f'copy{k}.png')
    labels = pd.read_csv(d / 'labels.csv', dtype=str, keep_default_na=False)     # the copies join the manifest, no patient id
    extra = [dict(file=f'{f.parent.name}/{f.name}', label=f.parent.name) for f in sorted(d.glob('*/copy*'))]
    pd.concat([labels, pd.DataFrame(extra)]).fillna('').to_csv(d / 'labels.csv', index=False)
    df = load_dataset(d)
    assert len(df) == 100 and (df.patient_id != '').sum() == 80
    # the pairs that must stay together, computed here independently of the module's clustering
    hashes = [perceptual_hash(read_image(p)) for p in df.path]
    sha = [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in df.path]
    must = [(i, j) for i in range(len(df)) for j in range(i + 1, len(df))
            if hash_distance(hashes[i], hashes[j]) <= NEAR_DUP_BITS or sha[i] == sha[j]
            or (df.patient_id[i] and df.patient_id[i] == df.patient_id[j])]
    copies = [p for p in df.path if Path(p).stem.startswith('copy')]
    assert len(copies) == 20 and all(any(df.path[i] == c or df.path[j] == c for i, j in must) for c in copies)
    cache = ImageCache(tmp_path / 'cache')
    for seed in range(4):
        sp = make_splits(df, seed=seed, cache=cache, progress=False)
        assert [(sp.path[i], sp.path[j]) for i, j in must if sp.split[i] != sp.split[j]] == [], seed
        assert set(sp.split) == {'train', 'val', 'test'} and (sp.groupby('split').y.nunique() == 2).all()
    kf = kfold_splits(df, k=5, cache=cache, progress=False)
    assert [(i, j) for i, j in must if kf.fold[i] != kf.fold[j]] == []
    back = load_splits(save_splits(sp, tmp_path / 'splits.csv'), df)
    assert back.split.tolist() == sp.split.tolist()
