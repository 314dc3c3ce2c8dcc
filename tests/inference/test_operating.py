"""Choosing the operating point on validation data (synthetic scores): the threshold meets the stated cell
sensitivity at the best specificity it allows, the slide rule meets it on smears, and training stores it."""

import numpy as np
import pytest

from inference.models import load_checkpoint
from inference.training.operating import (
    cell_threshold_for_sensitivity,
    choose_min_blasts,
    choose_operating_point,
    smear_rates,
)


def _scores(seed=0, n=400):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    p = np.clip(np.where(y == 1, rng.normal(0.7, 0.15, n), rng.normal(0.3, 0.15, n)), 0, 1)
    return y, p


def test_it_picks_the_highest_threshold_that_keeps_the_stated_sensitivity():
    y, p = _scores()
    t, sens, spec = cell_threshold_for_sensitivity(y, p, target=0.95)
    pos, neg = p[y == 1], p[y == 0]
    assert sens == pytest.approx((pos >= t).mean()) and sens >= 0.95
    assert spec == pytest.approx((neg < t).mean())
    # any higher cut (the next positive score up) falls below the target: t is the best specificity allowed
    higher = np.sort(pos[pos > t])[0]
    assert (pos >= higher).mean() < 0.95
    # a stricter target can only lower the threshold and the specificity
    t99, sens99, spec99 = cell_threshold_for_sensitivity(y, p, target=0.99)
    assert t99 <= t and sens99 >= 0.99 and spec99 <= spec


def test_it_gives_a_threshold_away_from_the_legacy_half_when_the_scores_say_so():
    y, p = _scores(seed=1)
    t, _, _ = cell_threshold_for_sensitivity(y, p * 0.5, target=0.95)  # everything scored low: a low cut
    assert t < 0.4


def test_it_refuses_to_choose_without_blasts_or_with_a_bad_target():
    with pytest.raises(ValueError, match="no positive"):
        cell_threshold_for_sensitivity([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="target"):
        cell_threshold_for_sensitivity([1, 0], [0.9, 0.2], target=0.0)


def test_it_chooses_the_slide_count_for_smear_sensitivity_at_the_best_specificity():
    # ALL smears hold >= 3 cells over the threshold; healthy ones up to 2 false positives
    smear_p = {
        "a1": [0.9, 0.8, 0.7, 0.1],
        "a2": [0.95, 0.9, 0.85, 0.6, 0.2],
        "h1": [0.9, 0.1, 0.2],
        "h2": [0.8, 0.7, 0.1],
        "h3": [0.1, 0.2],
    }
    smear_y = {"a1": 1, "a2": 1, "h1": 0, "h2": 0, "h3": 0}
    assert smear_rates(smear_p, smear_y, threshold=0.5, min_blasts=1) == (1.0, pytest.approx(1 / 3))
    k, sens, spec = choose_min_blasts(smear_p, smear_y, threshold=0.5, target=0.95)
    assert (k, sens, spec) == (3, 1.0, 1.0)
    # with one ALL smear holding a single positive cell, only k = 1 keeps sensitivity
    smear_p["a3"], smear_y["a3"] = [0.7, 0.1], 1
    k, sens, _ = choose_min_blasts(smear_p, smear_y, threshold=0.5, target=0.95)
    assert k == 1 and sens == 1.0


def test_it_says_what_it_was_chosen_on():
    y, p = _scores()
    op = choose_operating_point(y, p, smear_p={"s": [0.9, 0.9]}, smear_y={"s": 1}, chosen_on="validation split X")
    assert op.chosen_on.startswith("validation split X") and "1 validation smears" in op.chosen_on
    assert op.target_sensitivity == 0.95 and op.val_sensitivity >= 0.95 and op.min_blasts == 1
    assert op.cell_threshold == pytest.approx(cell_threshold_for_sensitivity(y, p)[0])


def test_training_stores_the_operating_point_chosen_on_its_validation_split(tmp_path):
    from inference.training.train import main

    from .test_train import _write_manifest

    manifest = _write_manifest(tmp_path, n=24)
    out = tmp_path / "m.pt"
    args = ["--data", "manifest", "--manifest", str(manifest), "--out", str(out), "--epochs", "2"]
    assert main([*args, "--input-size", "32", "--threads", "1"]) == 0
    op = load_checkpoint(out).preprocessing.operating_point
    assert "validation split" in op.chosen_on and op.target_sensitivity == 0.95
    assert op.val_sensitivity is not None and op.val_sensitivity >= 0.95
