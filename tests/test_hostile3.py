"""Issue 24, 'Hostile and careless use, third round': each case fixed, kept as a check that failed before the fix.
The command line runs in this process (`sxcli.cli`) unless the case needs a process of its own."""
import errno, os, subprocess, sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scoliosis_xray.synth import make_dataset
from sxcli import cli, one_line_error

EXE = Path(sys.executable).parent / 'scoliosis-xray'
TINY = ['--image-size', '64x32', '--batch-size', '8', '--backbone', 'resnet18', '--weights', 'none', '--val', '0.25',
        '--test', '0.3', '--quiet']
from scoliosis_xray.train import cpu_bf16_supported
TINY += ['--amp', 'bf16' if cpu_bf16_supported() else 'off']     # a bf16 checkpoint where the CPU has bf16 (the export case)


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp('hostile3')
    make_dataset(d / 'data', n=40, seed=3, height=256, progress=False)
    return d


def test_num_workers_is_capped_at_the_cores_with_one_clean_warning(data):
    r = cli('train', '--data', data / 'data', '--out', data / 'run', '--epochs', 1, '--max-batches', 1, '--cache', data / 'cache',
            '--num-workers', 999, *TINY)
    assert r.returncode == 0, r.stderr[-3000:]
    warn = [l for l in r.stderr.splitlines() if 'num_workers 999' in l]
    assert warn and warn[0].startswith('scoliosis-xray train: warning: num_workers 999 is more than the'), r.stderr
    assert '.py:' not in r.stderr, r.stderr                       # no source path, no source line, for any warning


def test_evaluate_out_inside_the_data_is_refused(data):
    if not (data / 'run' / 'config.json').exists(): pytest.skip('needs the run of the test above')
    before = sorted(p.name for p in (data / 'data' / 'Normal').iterdir())
    one_line_error(cli('evaluate', '--run', data / 'run', '--out', data / 'data' / 'Normal', '--no-cam', '--quiet'), 'evaluate', 'inside the input images')
    assert sorted(p.name for p in (data / 'data' / 'Normal').iterdir()) == before   # no figure became a film
    one_line_error(cli('evaluate', '--run', data / 'run', '--out', data / 'run' / 'checkpoints' / 'ev', '--no-cam', '--quiet'), 'evaluate', 'checkpoints folder')


@pytest.mark.parametrize('code,fix', [(errno.ENOSPC, 'the disk is full'), (errno.EROFS, 'read-only file system')])
def test_a_full_or_read_only_disk_is_one_line(monkeypatch, tmp_path, code, fix):
    import scoliosis_xray.synth as S
    def full(out, **kw): raise OSError(code, os.strerror(code), str(Path(out) / 'Normal' / 'n0001.png'))
    monkeypatch.setattr(S, 'make_dataset', full)
    last = one_line_error(cli('synth', '--out', tmp_path / 'd', '--n', 4), 'synth', fix)
    assert 'n0001.png' in last


def test_ctrl_c_says_interrupted(monkeypatch, tmp_path):
    import scoliosis_xray.synth as S
    def stop(out, **kw): raise KeyboardInterrupt()
    monkeypatch.setattr(S, 'make_dataset', stop)
    r = cli('synth', '--out', tmp_path / 'd', '--n', 4)
    assert r.returncode == 130 and r.stderr.strip() == 'scoliosis-xray synth: interrupted', r.stderr


def test_ctrl_c_while_importing_is_one_line(monkeypatch):
    import scoliosis_xray.cli as C
    def slow(argv=None): raise KeyboardInterrupt()
    monkeypatch.setattr(C, 'build_parser', slow)
    r = cli('train', '--help')
    assert r.returncode == 130 and r.stderr.strip() == 'scoliosis-xray train: interrupted', r.stderr


@pytest.mark.parametrize('cmd', [['train', '--data', 'd', '--out', 'o'], ['synth', '--out', 'o'], ['cobb', 'train', '--data', 'd', '--out', 'o']])
def test_a_seed_too_large_for_numpy_and_torch_is_refused(cmd):
    r = cli(*cmd, '--seed', '99999999999999999999')
    assert r.returncode == 2 and 'must be a whole number from 0 to 4294967295' in r.stderr and 'Traceback' not in r.stderr, r.stderr


def test_a_named_pipe_is_flagged_not_waited_for(data, tmp_path):
    if not (data / 'run' / 'checkpoints' / 'best.pt').exists(): pytest.skip('needs the run of the first test')
    os.mkfifo(tmp_path / 'pipe.png')
    film = next((data / 'data' / 'Normal').iterdir())
    r = subprocess.run([str(EXE), 'predict', '--checkpoint', str(data / 'run' / 'checkpoints' / 'best.pt'), str(tmp_path / 'pipe.png'), str(film), '--quiet'],
                       capture_output=True, text=True, timeout=120)     # it used to wait on the pipe forever
    assert 'Traceback' not in r.stderr, r.stderr
    assert 'not a regular file' in r.stdout + r.stderr and film.name in r.stdout, (r.stdout, r.stderr)


def test_cobb_angles_refuses_a_zero_height_and_degenerate_landmarks():
    from scoliosis_xray.cobb import cobb_angles
    from scoliosis_xray.synth import synth_image
    _, _, lm = synth_image(0, 3, height=512)
    pts = np.asarray(lm, dtype=float).reshape(68, 2)
    with pytest.raises(ValueError, match='height must be'): cobb_angles(pts, 0)
    with pytest.raises(ValueError, match='degenerate landmarks'): cobb_angles(np.ones((68, 2)))


def test_a_carriage_return_in_a_name_cannot_split_a_csv_row(tmp_path):
    from scoliosis_xray.core import write_csv
    write_csv(tmp_path / 't.csv', pd.DataFrame({'path': ['a\r=cr.png', 'b.png'], 'p': [0.1, 0.2]}))
    rows = (tmp_path / 't.csv').read_bytes().split(b'\n')
    assert len([r for r in rows if r]) == 3 and not any(r.startswith(b'=') for r in rows)


def test_export_says_how_far_predict_with_the_checkpoint_will_differ(data, tmp_path):
    ck = data / 'run' / 'checkpoints' / 'best.pt'
    if not ck.exists(): pytest.skip('needs the run of the first test')
    from scoliosis_xray.export import export_model
    r = export_model(ck, tmp_path / 'm.pt')
    films = [str(p) for p in sorted((data / 'data' / 'Scoliosis').iterdir())[:6]]
    a, b = cli('predict', '--checkpoint', ck, *films), cli('predict', '--model', tmp_path / 'm.pt', *films)
    pa, pb = (pd.read_csv(__import__('io').StringIO(x.stdout)).prob_scoliosis.to_numpy() for x in (a, b))
    seen = float(np.abs(pa - pb).max())
    if r['checkpoint_precision'] == 'fp32': assert seen < 1e-4 and r['max_abs_diff_vs_predict'] < 1e-4
    else:                                                             # bf16 checkpoint, fp32 export: said, and of the size seen
        assert r['max_abs_diff_vs_predict'] > 1e-4 and seen < 20 * r['max_abs_diff_vs_predict'] + 1e-3, (seen, r['max_abs_diff_vs_predict'])
        out = cli('export', '--checkpoint', ck, '--out', tmp_path / 'm2.pt').stdout
        assert 'note: `predict --checkpoint` runs this checkpoint in bf16' in out, out


def test_a_landmark_checkpoint_given_to_export_or_predict_is_named_as_such(data, tmp_path):
    ck = data / 'run' / 'checkpoints' / 'best.pt'
    if not ck.exists(): pytest.skip('needs the run of the first test')
    import torch
    from scoliosis_xray.run import save_checkpoint
    d = torch.load(ck, weights_only=True); d['config'] = dict(d['config'], task='landmarks')
    save_checkpoint(d, tmp_path / 'landmarks.pt')
    one_line_error(cli('export', '--checkpoint', tmp_path / 'landmarks.pt', '--out', tmp_path / 'm.pt'), 'export', 'a landmark (Cobb angle) checkpoint')
    film = next((data / 'data' / 'Normal').iterdir())
    one_line_error(cli('predict', '--checkpoint', tmp_path / 'landmarks.pt', film), 'predict', 'cobb predict')


def test_synth_refuses_a_one_class_set():
    one_line_error(cli('synth', '--out', 'never', '--n', 4, '--images-per-patient', 100), 'synth', 'images-per-patient')


def test_an_image_given_as_checkpoint_is_named(data, tmp_path):
    film = next((data / 'data' / 'Normal').iterdir())
    one_line_error(cli('export', '--checkpoint', film, '--out', tmp_path / 'm.pt'), 'export', 'a PNG image, not a checkpoint')


def test_resuming_a_landmark_run_as_a_classifier_says_what_it_is(data, tmp_path):
    import json, shutil
    if not (data / 'run' / 'config.json').exists(): pytest.skip('needs the run of the first test')
    shutil.copytree(data / 'run', tmp_path / 'lm')
    c = json.loads((tmp_path / 'lm' / 'config.json').read_text()); c['task'] = 'landmarks'
    (tmp_path / 'lm' / 'config.json').write_text(json.dumps(c))
    one_line_error(cli('train', '--resume', tmp_path / 'lm'), 'train', 'cobb train --resume')


def test_a_text_cell_in_landmarks_csv_is_named(tmp_path):
    from scoliosis_xray.landmarks import write_aasce, load_landmarks
    root = write_aasce(tmp_path / 'a', n=4, height=256, seed=0, mat=False, test_fraction=0.0)
    lm = root / 'labels' / 'training' / 'landmarks.csv'
    rows = lm.read_text().splitlines(); cells = rows[1].split(','); cells[5] = 'oops'; rows[1] = ','.join(cells)
    lm.write_text('\n'.join(rows) + '\n')
    probs = [p['problem'] for p in load_landmarks(root).attrs['problems']]
    assert any("the value 'oops' is not a number" in p for p in probs), probs      # it said '136 values, expected 136'


def test_a_bad_first_row_is_data_not_a_header_and_semicolons_are_named(tmp_path):
    from scoliosis_xray.landmarks import write_aasce, load_landmarks, AnnotationError
    root = write_aasce(tmp_path / 'a', n=4, height=256, seed=0, mat=False, test_fraction=0.0)
    lab = root / 'labels' / 'training'
    rows = (lab / 'landmarks.csv').read_text().splitlines(); cells = rows[0].split(','); cells[0] = 'x'; rows[0] = ','.join(cells)
    (lab / 'landmarks.csv').write_text('\n'.join(rows) + '\n')
    df = load_landmarks(root)
    assert len(df) == 3 and any("'x' is not a number" in p['problem'] for p in df.attrs['problems'])   # not silently a header
    (lab / 'angles.csv').write_text((lab / 'angles.csv').read_text().replace(',', ';'))
    with pytest.raises(AnnotationError, match='semicolons'): load_landmarks(root)


def test_a_bad_backbone_is_refused_before_the_data_warnings(data, tmp_path):
    r = cli('train', '--data', data / 'data', '--out', tmp_path / 'r', '--backbone', 'resnet5O', '--cache', data / 'cache', '--quiet')
    one_line_error(r, 'train', "unknown backbone 'resnet5O'")
    assert 'warning' not in r.stderr, r.stderr                        # the few-images warning used to come first
    assert not (tmp_path / 'r').exists()


def test_cobb_train_refuses_a_bad_backbone_before_reading_the_data(tmp_path):
    r = cli('cobb', 'train', '--data', tmp_path / 'no-such-folder', '--out', tmp_path / 'r', '--backbone', 'vgg16', '--quiet')
    one_line_error(r, 'cobb train', "ResNet-family backbone")                # not the data's problems, not after caching films
    assert not (tmp_path / 'r').exists()


FILL_AND_RUN = r'''mount -t tmpfs -o size=128k tmpfs "$FULL" 2>/dev/null || exit 77
head -c 1000000 /dev/zero > "$FULL/filler" 2>/dev/null
"$@"; rc=$?
echo "--- left on the full disk:"; cd "$FULL" && find . -mindepth 1 ! -name filler | sort
exit $rc'''

def _on_a_full_disk(full, *cmd):
    "Run `cmd` with a real full disk mounted at `full` (a 128 KiB tmpfs filled up, in a user and mount namespace of its own)."
    return subprocess.run(['unshare', '-rm', 'bash', '-c', FILL_AND_RUN, 'full', *map(str, cmd)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, 'FULL': str(full)})

@pytest.mark.parametrize('cmd,name', [
    (['synth', '--out', '{F}/d', '--n', '8', '--height', '256', '--quiet'], 'synth'),
    (['predict', '--checkpoint', '{R}', '{I}', '--out', '{F}/p.csv', '--quiet'], 'predict'),
    (['predict', '--checkpoint', '{R}', '{I}', '--cam', '{F}/cam', '--quiet'], 'predict'),
    (['export', '--checkpoint', '{R}', '--out', '{F}/m.onnx'], 'export'),
    (['audit', '{D}', '--json', '{F}/a.json', '--quiet'], 'audit'),
    (['evaluate', '--run', '{U}', '--out', '{F}/ev', '--no-cam', '--quiet'], 'evaluate')])
def test_a_real_full_disk_is_one_line_naming_where(data, tmp_path, cmd, name):
    "Not a patched error: a tmpfs that is really full. The one line names what was being written, and no half file stays."
    if not (data / 'run' / 'checkpoints' / 'best.pt').exists(): pytest.skip('needs the run of the first test')
    full = tmp_path / 'full'; full.mkdir()
    probe = _on_a_full_disk(full, 'true')
    if probe.returncode == 77 or 'left on the full disk' not in probe.stdout: pytest.skip(f'no user namespace with a tmpfs here: {probe.stderr[-200:]}')
    film = next((data / 'data' / 'Normal').iterdir())
    fill = dict(F=full, R=data / 'run' / 'checkpoints' / 'best.pt', I=film, D=data / 'data', U=data / 'run')
    r = _on_a_full_disk(full, EXE, *[a.format(**fill) for a in cmd])
    one_line_error(r, name, 'the disk is full')
    assert str(full) in r.stderr.strip().splitlines()[-1], r.stderr          # it named no file: the write names none
    left = r.stdout.split('--- left on the full disk:')[1].split()
    assert not any(f.endswith(('.csv', '.onnx', '.json', '.html', '.png')) and 'synth.json' not in f and 'files.json' not in f for f in left), left   # no half-written result


def test_cobb_audit_never_writes_over_or_into_the_data(data):
    lm = data / 'data' / 'landmarks.csv'; before = lm.read_bytes()
    one_line_error(cli('cobb', 'audit', data / 'data', '--json', lm), 'cobb audit', 'give a .json file name')   # it replaced landmarks.csv
    one_line_error(cli('cobb', 'audit', data / 'data', '--json', data / 'data' / 'audit.json'), 'cobb audit', 'inside the input folder')
    one_line_error(cli('audit', data / 'data', '--json', data / 'data' / 'Normal' / 'audit.json', '--quiet'), 'audit', 'inside the input folder')
    assert lm.read_bytes() == before and not (data / 'data' / 'audit.json').exists() and not (data / 'data' / 'Normal' / 'audit.json').exists()


def test_a_synthetic_set_with_foreign_tables_is_one_line(tmp_path):
    from scoliosis_xray.landmarks import load_landmarks, AnnotationError
    make_dataset(tmp_path / 'd', n=6, seed=1, height=256, progress=False)
    (tmp_path / 'd' / 'landmarks.csv').write_text('{\n "source": "d"\n}\n')        # what the audit above wrote over it
    with pytest.raises(AnnotationError, match='not the tables `scoliosis-xray synth` writes'): load_landmarks(tmp_path / 'd')   # it was KeyError: 'file'
    one_line_error(cli('cobb', 'train', '--data', tmp_path / 'd', '--out', tmp_path / 'r', '--quiet'), 'cobb train', 'redraw the dataset')


@pytest.mark.parametrize('cmd,name', [(['train', '--data', '{D}', '--out', '{D}/run'], 'train'), (['cobb', 'train', '--data', '{D}', '--out', '{D}'], 'cobb train'),
                                      (['cobb', 'train', '--data', '{D}', '--out', '{D}/Normal/run'], 'cobb train')])
def test_a_run_inside_its_own_data_is_refused(data, cmd, name):
    d = data / 'data'; before = sorted(p.relative_to(d) for p in d.rglob('*'))
    one_line_error(cli(*[a.format(D=d) for a in cmd], '--epochs', 1, '--quiet'), name, 'inside the input images')
    assert sorted(p.relative_to(d) for p in d.rglob('*')) == before


def test_predict_tables_never_go_into_an_input_folder(data, tmp_path):
    if not (data / 'run' / 'checkpoints' / 'best.pt').exists(): pytest.skip('needs the run of the first test')
    d = data / 'data'
    one_line_error(cli('predict', '--checkpoint', data / 'run' / 'checkpoints' / 'best.pt', d / 'Normal', '--out', d / 'Normal' / 'p.csv', '--quiet'), 'predict', 'inside the input folder')
    r = cli('cobb', 'train', '--data', d, '--out', tmp_path / 'cobb', '--epochs', 1, '--max-batches', 1, '--image-size', '128x64', '--batch-size', 4,
            '--weights', 'none', '--cache', data / 'cache', '--quiet')
    assert r.returncode == 0, r.stderr[-2000:]
    one_line_error(cli('cobb', 'predict', '--checkpoint', tmp_path / 'cobb' / 'checkpoints' / 'best.pt', d, '--out', d / 'm.csv', '--quiet'), 'cobb predict', 'inside the input folder')
    assert not (d / 'Normal' / 'p.csv').exists() and not (d / 'm.csv').exists() and not list(d.glob('*.partial*'))


@pytest.mark.parametrize('thr', [float('nan'), 5.0, -1.0])
def test_a_checkpoint_threshold_that_is_no_probability_is_refused(data, tmp_path, thr):
    ck = data / 'run' / 'checkpoints' / 'best.pt'
    if not ck.exists(): pytest.skip('needs the run of the first test')
    import torch
    from scoliosis_xray.run import save_checkpoint
    d = torch.load(ck, weights_only=True); d['threshold'] = thr
    save_checkpoint(d, tmp_path / 'bad.pt')                         # every film was Normal (NaN, 5) or Scoliosis (-1), exit 0
    one_line_error(cli('predict', '--checkpoint', tmp_path / 'bad.pt', data / 'data' / 'Normal', '--quiet'), 'predict', 'is not a probability between 0 and 1')


def test_a_run_copied_with_new_times_resumes_and_an_edited_one_is_named(data, tmp_path):
    "`cp -r` gives every file a new time: the ledger knows the files by size and content too, so the copy can be resumed."
    import json, shutil, time
    r = cli('train', '--data', data / 'data', '--out', tmp_path / 'run', '--epochs', 3, '--max-batches', 1, '--cache', data / 'cache', *TINY)
    assert r.returncode == 0, r.stderr[-2000:]
    m = json.loads((tmp_path / 'run' / 'metrics.json').read_text())
    cfg = json.loads((tmp_path / 'run' / 'config.json').read_text())
    # an interrupted run: one epoch done (its last.pt is epoch 3; set the run back as a kill after epoch 1 would leave it)
    m.update(complete=False, history=m['history'][:1]); (tmp_path / 'run' / 'metrics.json').unlink()
    from scoliosis_xray.core import atomic_write
    atomic_write(tmp_path / 'run' / 'metrics.json', m)
    time.sleep(0.01)
    shutil.copytree(tmp_path / 'run', tmp_path / 'copy', copy_function=shutil.copy)     # contents, not times (cp -r)
    cfg['train']['epochs'] = 4
    import torch
    from scoliosis_xray.run import save_checkpoint
    ck = torch.load(tmp_path / 'copy' / 'checkpoints' / 'last.pt', weights_only=True); ck['epoch'] = 1
    save_checkpoint(ck, tmp_path / 'copy' / 'checkpoints' / 'last.pt')
    r = cli('train', '--resume', tmp_path / 'copy', '--quiet')
    assert r.returncode == 0, r.stderr[-2000:]                                   # it said: config.json ... was not written by scoliosis-xray
    assert json.loads((tmp_path / 'copy' / 'metrics.json').read_text())['complete']
    shutil.copytree(tmp_path / 'copy', tmp_path / 'edited', copy_function=shutil.copy)
    (tmp_path / 'edited' / 'config.json').write_text(json.dumps(cfg))               # epochs 3 -> 4 by hand
    atomic_write(tmp_path / 'edited' / 'metrics.json', dict(m, complete=False), overwrite=True)
    one_line_error(cli('train', '--resume', tmp_path / 'edited', '--quiet'), 'train', 'was changed since the run wrote it')


def test_synth_never_draws_into_a_run(data):
    if not (data / 'run' / 'config.json').exists(): pytest.skip('needs the run of the first test')
    before = sorted(p.name for p in (data / 'run').iterdir())
    one_line_error(cli('synth', '--out', data / 'run', '--n', 4, '--height', 256, '--overwrite', '--quiet'), 'synth', 'is the training run')   # it offered --overwrite
    one_line_error(cli('synth', '--out', data / 'run' / 'checkpoints' / 'd', '--n', 4, '--height', 256, '--quiet'), 'synth', 'is inside the training run')
    assert sorted(p.name for p in (data / 'run').iterdir()) == before
