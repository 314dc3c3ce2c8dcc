"""Metrics against values computed by hand."""

import math

import pytest

from inference.training.calibrate import apply_temperature, expected_calibration_error, fit_temperature
from inference.training.metrics import auroc, binary_metrics, confusion, mean_std


def test_it_counts_the_confusion_matrix():
    assert confusion([1, 1, 0, 0, 1], [1, 0, 0, 1, 1]) == (2, 1, 1, 1)


def test_it_matches_hand_computed_metrics():
    # tp=3 fp=1 tn=4 fn=2
    y = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    p = [0.9, 0.8, 0.7, 0.2, 0.1, 0.6, 0.4, 0.3, 0.2, 0.1]
    m = binary_metrics(y, p)
    assert m["accuracy"] == pytest.approx(0.7)
    assert m["precision"] == pytest.approx(0.75)
    assert m["recall"] == pytest.approx(0.6)
    assert m["specificity"] == pytest.approx(0.8)
    assert m["f1"] == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert m["mcc"] == pytest.approx((3 * 4 - 1 * 2) / math.sqrt(4 * 5 * 5 * 6))
    # pairs (pos, neg) ranked right, by hand: 0.9, 0.8, 0.7 beat all 5; 0.2 beats 0.1 and ties 0.2 (1.5);
    # 0.1 ties 0.1 (0.5): 17 of 25
    assert m["auroc"] == pytest.approx(17 / 25)


def test_it_gives_auroc_one_for_perfect_ranking_and_nan_for_one_class():
    assert auroc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.9]) == 1.0
    assert math.isnan(auroc([1, 1], [0.1, 0.2]))


def test_it_averages_folds_with_sample_std():
    s = mean_std([{"a": 1.0}, {"a": 3.0}], ["a"])
    assert s["a"]["mean"] == 2.0 and s["a"]["std"] == pytest.approx(math.sqrt(2))


def test_it_keeps_calibrated_probabilities_in_the_unit_interval():
    p = apply_temperature([-1000.0, -3.0, 0.0, 3.0, 1000.0], 0.5)
    assert ((p >= 0) & (p <= 1)).all()
    assert p[2] == 0.5


def test_it_fits_a_temperature_above_one_for_overconfident_logits():
    # logits five times too large for labels drawn at sigmoid(z/5): the fitted T should be near 5
    import numpy as np

    rng = np.random.default_rng(0)
    z = rng.normal(0, 10, 4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-z / 5))).astype(int)
    t = fit_temperature(z, y)
    assert 4.0 < t < 6.0
    assert expected_calibration_error(apply_temperature(z, t), y) < expected_calibration_error(
        apply_temperature(z, 1.0), y
    )


def test_it_computes_ece_by_hand():
    # bin [0.8,0.9): p=0.8 twice, one positive -> |0.8-0.5| * 2/4 ; bin [0.2,0.3): p=0.2 twice, no positive -> 0.2*2/4
    assert expected_calibration_error([0.8, 0.8, 0.2, 0.2], [1, 0, 0, 0]) == pytest.approx(0.15 + 0.1)
