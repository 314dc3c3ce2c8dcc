"""The fold-noise simulation: a perfect classifier never spreads; an imperfect one spreads as the binomial says."""

import numpy as np

from inference.training.fold_noise import simulate, summarise


def test_a_perfect_classifier_has_no_fold_spread_and_meets_any_target():
    out = summarise(simulate(1.0, [51, 52, 52], runs=200), target_mean=99.0, target_std=0.5)
    assert out["fold_std_mean"] == 0.0 and out["p_both"] == 1.0


def test_the_fold_spread_matches_the_binomial_standard_error():
    folds = simulate(0.9, [100] * 5, runs=20_000, seed=1)
    assert abs(folds.mean() - 90.0) < 0.1
    expected = 100 * np.sqrt(0.9 * 0.1 / 100)  # 3.0 points per fold
    assert abs(folds.std(1, ddof=1).mean() - expected) < 0.25  # the sample std is biased a little low
    out = summarise(folds, target_mean=95.0, target_std=1.0)
    assert out["p_mean_at_least_target"] < 0.01 and out["p_both"] <= out["p_std_at_most_target"]
