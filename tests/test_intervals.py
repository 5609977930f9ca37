"""Issue 23, 'Intervals at the edges, second round': each finding as a check that fails on the code before the fix
(bootstrap limits of agreement and ICC, a SMAPE interval above 100%, zero-width shares, p = 0 with se 0, the AUC
interval for unequal score spreads). Fast; 21_cobb and 02_metrics hold the coverage tables."""
import numpy as np
import pytest
from scipy import stats

from scoliosis_xray.cobb import agreement, loa_ci, icc_ci, icc21, smape_ci, _simulate
from scoliosis_xray.metrics import auc_interval, delong_paired, binormal_predictions, binormal_auc, newcombe_auc_ci


def pingouin_tables():
    "The tables whose ICC(A,1) interval pingouin 0.7 gave (rounded to 2 decimals): n films, measured and reference."
    out = []
    for seed, (n, ci) in enumerate(((5, [0.91, 1.0]), (12, [0.41, 0.99]), (20, [0.02, 0.97]), (30, [-0.05, 0.96]))):
        rng = np.random.default_rng(seed)
        t = rng.uniform(0, 60, n); p = t * (1 + 0.1 * seed) + rng.normal(seed, 3, n)
        out.append((np.c_[p, t], ci))
    return out


@pytest.mark.parametrize('table,ci', pingouin_tables())
def test_icc_interval_is_mcgraw_wong_as_pingouin_computes_it(table, ci):
    assert icc_ci(table) == pytest.approx(ci, abs=0.006)


def test_icc_interval_with_a_constant_offset_is_wide():
    lo, hi = icc_ci(np.c_[np.arange(20.0) + 5, np.arange(20.0)])
    assert lo < 0.2 and hi > 0.9                                    # the bootstrap gave [0.948, 0.980]


def test_exact_limits_of_agreement_at_five_films():
    d = np.array([-1.0, 1.0, 0.0, 0.6, -0.6]); d = 0.12 + 4.648 * (d - d.mean()) / d.std(ddof=1)
    assert loa_ci(d)['high'] == pytest.approx([4.41, 27.89], abs=0.01)            # Carkeet 2015
    assert loa_ci(d, method='approx')['high'] == pytest.approx([-1.41, 19.87], abs=0.01)   # Bland and Altman 1999


def test_bias_interval_is_students_t_at_every_size():
    p, t = _simulate(6, seed=2)
    d = p.max(1) - t.max(1)
    h = stats.t.ppf(0.975, 5) * d.std(ddof=1) / np.sqrt(6)
    assert agreement(p, t, n_boot=200)['bland_altman']['bias']['ci'] == pytest.approx([d.mean() - h, d.mean() + h])


def test_smape_interval_stays_a_percentage():
    p, t = _simulate(10, seed=4); p[:3] = 0                          # three films read as 0, 0, 0
    ag = agreement(p, t, n_boot=2000)
    lo, hi = ag['smape']['ci']
    assert 0 <= lo < ag['smape']['value'] < hi <= 100
    assert smape_ci(np.r_[np.ones(5), np.zeros(5)]) [1] <= 100


def test_smape_counts_its_zero_over_zero_films():
    s = agreement([[0, 0, 0], [10, 5, 5], [20, 3, 3]], [[0, 0, 0], [12, 4, 6], [20, 3, 3]], n_boot=50)['smape']
    assert s['zero_films'] == 1 and '0/0 counts as 0' in s['convention']


def test_within_5_is_never_zero_width():
    p, t = _simulate(30, bias=0.0, sd=1.5, seed=5)
    w = agreement(p, t, n_boot=200)['within_5']
    assert w['value'] == 1.0 and w['ci'][0] == pytest.approx(0.8843, abs=1e-3) and w['ci'][1] == 1.0


def test_no_zero_width_interval_for_perfect_agreement_or_an_offset():
    _, t = _simulate(20, seed=6)
    same, off = agreement(t, t, n_boot=100), agreement(t + 5, t, n_boot=100)
    for ag in (same, off):
        assert ag['bland_altman']['bias']['ci'] is None and ag['bland_altman']['loa_high']['ci'] is None
        assert 'do not vary' in ag['bland_altman']['bias']['undefined']
    assert same['icc']['ci'] is None and off['icc']['ci'][1] - off['icc']['ci'][0] > 0.5


def test_degenerate_delong_is_undefined_not_p_zero():
    y = np.r_[np.ones(20, int), np.zeros(20, int)]
    d = delong_paired(y, np.full(40, 0.5), y * 0.9 + 0.05)
    assert d['p'] is None and d['se'] is None and d['ci'] is None and d['difference'] == 0.5
    assert delong_paired(y, y * 0.9 + 0.05, y * 0.9 + 0.05)['p'] == 1.0


def test_auc_interval_holds_for_unequal_spreads():
    "38 scoliotic films with narrow scores against 14 normal ones: the union of DeLong and Newcombe covered 85%."
    true, hit = binormal_auc(1.18, 0.11), 0
    for r in range(300):
        y, p = binormal_predictions(38, 14, d=1.18, seed=r, sd_pos=0.11)
        lo, hi = auc_interval(y, p); hit += lo <= true <= hi
    assert hit / 300 >= 0.93
    assert newcombe_auc_ci(1.0, 38, 14)[0] > true                   # Newcombe alone misses it at a sample AUC of 1
