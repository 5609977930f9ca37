"""Issue 15, 'Statistics that hold at the edges': each finding of the statistical review as a check that fails on the
code before the fix. Fast (a few seconds); the notebooks 02_metrics and 16_evaluate hold the fuller checks."""
import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from scoliosis_xray.metrics import (auc_interval, binormal_predictions, calibration_summary, compare_predictions,
                                    evaluate_predictions, exact_ci, interval_coverage, median_ci, at_prevalence)
from scoliosis_xray.evaluate import limitations, summarize_cv, metrics_table


def edge_set():
    "38 scoliosis and 14 normal images, every normal called normal and one scoliosis image called scoliosis with PPV at stake."
    y = np.r_[np.ones(38, int), np.zeros(14, int)]
    p = np.r_[np.linspace(0.35, 0.99, 38), np.linspace(0.01, 0.45, 14)]
    return y, p


def test_no_zero_width_interval_at_14_of_14():
    y, p = edge_set()
    sp = evaluate_predictions(y, p, 0.5, n_boot=200)['operating_points']['chosen']['metrics']['specificity']
    assert sp['value'] == 1.0
    assert sp['ci'][1] == 1.0 and sp['ci'][0] == pytest.approx(0.768, abs=1e-3)   # exact, not 1.000-1.000


def test_ppv_with_one_predicted_positive_gets_the_exact_interval():
    y, p = edge_set()
    m = evaluate_predictions(y, p, 0.985, n_boot=200)['operating_points']['chosen']
    assert m['confusion']['tp'] + m['confusion']['fp'] == 1
    assert m['metrics']['ppv']['ci'] == pytest.approx([0.025, 1.0], abs=1e-3)


def test_a_small_wide_test_set_stays_in_the_limitations():
    y, p = edge_set()
    ev = evaluate_predictions(y, p, 0.5, n_boot=200, threshold_from='validation')
    lim = ' '.join(limitations(dict(metrics=ev)))
    assert 'specificity 0.77 to 1.00' in lim                        # a zero-width interval used to drop it from the list


@pytest.mark.parametrize('design', [(38, 14, 2.5, 1.0), (38, 14, 4.5, 2.0), (20, 5, 2.0, 1.0), (100, 10, 2.5, 1.0)])
def test_coverage_at_small_imbalanced_designs(design):
    cov = interval_coverage(*design[:2], d=design[2], score_threshold=design[3], n_draws=60, seed=11)
    assert (cov.coverage >= 0.93).all(), cov[cov.coverage < 0.93]


def test_ece_of_a_calibrated_model_is_not_called_poor_calibration():
    p = binormal_predictions(38, 14, d=2.5, seed=7)[1]
    y = (np.random.default_rng(7).random(52) < p).astype(int)
    cal = calibration_summary(y, p, n_sim=1000)
    assert cal['p_ece'] > 0.05 and cal['ece_if_calibrated'] > 0.05
    lim = ' '.join(limitations(dict(metrics=evaluate_predictions(y, p, 0.5, n_boot=500, threshold_from='validation'))))
    assert 'poorly calibrated' not in lim and 'miscalibrated' not in lim


def test_pos_weight_odds_shift_is_named():
    y, p = binormal_predictions(400, 400, d=2.0, seed=8, calibrated=True)
    p = 1 / (1 + np.exp(-(np.log(p / (1 - p)) + np.log(0.377))))
    ev = evaluate_predictions(y, p, 0.5, n_boot=500, threshold_from='validation')
    assert ev['calibration']['intercept']['value'] == pytest.approx(-np.log(0.377), abs=0.25)
    lim = ' '.join(limitations(dict(metrics=ev, training=dict(pos_weight=0.377))))
    assert 'miscalibrated' in lim and 'pos_weight = 0.377' in lim


def test_cv_headline_is_the_mean_of_folds_not_the_pooled_auc():
    folds = []
    for i, sh in enumerate((-2.0, -1.0, 0.0, 1.0, 2.0)):
        y, p = binormal_predictions(20, 20, d=2.5, seed=400 + i)
        folds.append(dict(y_true=y, prob=1 / (1 + np.exp(-(np.log(p / (1 - p)) + sh))), threshold=0.5))
    cv = summarize_cv(folds, n_boot=300)
    fold = cv['spread']['roc_auc']['values']
    pooled = cv['pooled']['operating_points']['chosen']['metrics']['roc_auc']
    assert pooled['ci'][1] < min(fold)                               # pooling mixes the models' scales
    assert cv['fold_mean']['roc_auc']['value'] == pytest.approx(np.mean(fold))
    assert cv['fold_mean']['roc_auc']['ci'][0] > pooled['ci'][1]


def test_clustered_films_widen_the_interval():
    rng = np.random.default_rng(5)
    y = np.repeat(np.r_[np.ones(20, int), np.zeros(20, int)], 3)
    s = np.repeat(rng.normal(1.2 * np.r_[np.ones(20), np.zeros(20)], 1.0), 3) + rng.normal(0, 0.3, 120)
    p, g = 1 / (1 + np.exp(-s)), np.repeat(np.arange(40), 3)
    a, b = auc_interval(y, p), auc_interval(y, p, groups=g)
    assert b[1] - b[0] > 1.4 * (a[1] - a[0])
    ev = evaluate_predictions(y, p, 0.5, n_boot=50, groups=g)
    assert ev['ci']['clusters'] == 40


def test_a_run_named_latest_run_is_not_suspected_of_test_tuning():
    y, p = binormal_predictions(300, 300, d=3.0, seed=8, calibrated=True)
    ev = evaluate_predictions(y, p, 0.5, n_boot=100, threshold_from='validation',
                              threshold_source='validation split of latest-run (youden, best epoch 3)')
    assert not any('tuned on this test set' in s for s in limitations(dict(metrics=ev)))
    ev_unknown = evaluate_predictions(y, p, 0.5, n_boot=100)
    assert any('not documented as chosen on validation' in s for s in limitations(dict(metrics=ev_unknown)))


def test_wording_of_intervals_and_comparisons():
    ev = evaluate_predictions(*binormal_predictions(20, 20), threshold=0.5, n_boot=100, threshold_from='validation')
    lim = ' '.join(limitations(dict(metrics=ev)))
    assert 'could be anywhere' not in lim and 'not evidence of a difference' not in lim
    assert 'scoliosis-xray compare' in lim


def test_ppv_at_screening_prevalence():
    assert at_prevalence(0.974, 0.929, 0.03)['ppv'] == pytest.approx(0.297, abs=0.005)   # 0.97 at 73% is ~0.3 at 3%
    y, p = edge_set()
    ap = evaluate_predictions(y, p, 0.5, n_boot=50, prevalence=0.03)['operating_points']['chosen']['at_prevalence']
    assert ap['ppv']['value'] == 1.0 and ap['ppv']['ci'][0] < 0.2   # no false alarm among 14 normals says little at 3%


def test_paired_comparison_detects_what_separate_intervals_cannot():
    rng = np.random.default_rng(12)
    y = np.r_[np.ones(60, int), np.zeros(60, int)]
    base = rng.normal(1.2 * y, 1.0)
    pa = 1 / (1 + np.exp(-(base + rng.normal(0, 0.25, 120))))
    pb = 1 / (1 + np.exp(-(base + 0.45 * y + rng.normal(0, 0.25, 120))))
    c = compare_predictions(y, pa, pb, n_boot=500)
    assert auc_interval(y, pb)[0] < auc_interval(y, pa)[1]           # the separate intervals overlap
    assert c['metrics']['roc_auc']['delong']['p'] < 0.05
    json.dumps(c, allow_nan=False)


def test_table_says_undefined_and_the_method():
    y, p = edge_set()
    t = metrics_table(evaluate_predictions(y, p, 0.999, n_boot=50))
    assert t.loc['PPV (precision)'].iloc[0] == 'undefined'
    assert t.loc['ROC-AUC †', 'interval'].startswith('DeLong')


def test_shortcut_flags_on_the_lower_bound_and_cross_validates_features():
    from scoliosis_xray.data import shortcut_check
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(60, int), np.zeros(60, int)]
    noise = shortcut_check(pd.DataFrame({'width': rng.normal(size=120), 'height': rng.normal(size=120)}), y)
    assert not noise['shortcut'] and not noise['above_chance']
    assert min(noise['feature_auc'].values()) < 0.6                     # in-sample max(AUC, 1 - AUC) never goes below 0.5
    rng = np.random.default_rng(0); rng.normal(size=240)
    weak = shortcut_check(pd.DataFrame({'width': rng.normal(1.2 * y, 1.0)}), y)       # AUC ~0.69: used to 'pass' silently
    assert weak['above_chance'] and not weak['shortcut'] and 'better than chance' in weak['verdict'], weak
    strong = shortcut_check(pd.DataFrame({'width': rng.normal(1.5 * y, 1.0)}), y)
    assert strong['shortcut'] == bool(strong['ci'][0] > 0.6 or strong['auc'] >= 0.8) and strong['shortcut']


def test_median_ci_of_a_share_to_area_ratio():
    assert median_ci(np.arange(1.0, 11.0)) == [2.0, 9.0]
    assert median_ci([1.0, 2.0]) is None
    assert exact_ci(0, 0) is None
