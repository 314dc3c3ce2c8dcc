"""Stain normalisation by the smear's median: what a healthy smear and a leukaemic one share is their background."""

import cv2
import numpy as np
import pytest

from inference.stain import lab_stats, reinhard, target_of


def _smear(n_violet: int, seed: int = 0) -> np.ndarray:
    """A pale pink field (background and red cells) with ``n_violet`` dark violet discs (white cells)."""
    rng = np.random.default_rng(seed)
    img = np.clip(rng.normal([225, 200, 205], 6, (200, 200, 3)), 0, 255).astype(np.uint8)
    for _ in range(n_violet):
        x, y = (int(v) for v in rng.integers(15, 185, 2))
        cv2.circle(img, (x, y), 12, (90, 40, 150), -1)
    return img


def test_the_median_is_exact_and_comes_with_the_moments():
    img = np.random.default_rng(3).integers(0, 256, (101, 77, 3), dtype=np.uint8)
    stats = lab_stats(img)
    lab = cv2.cvtColor(img, cv2.COLOR_RGB2LAB).reshape(-1, 3)
    assert stats["median"] == [float(np.sort(lab[:, c])[(len(lab) - 1) // 2]) for c in range(3)]
    assert np.allclose(stats["mean"], lab.mean(0)) and np.allclose(stats["std"], lab.std(0))


def test_the_median_of_a_smear_does_not_follow_its_white_cells_but_its_moments_do():
    healthy, leukaemic = lab_stats(_smear(1)), lab_stats(_smear(15))  # white cells on 1% and 15% of the field
    assert np.abs(np.subtract(healthy["median"], leukaemic["median"])).max() <= 1
    assert leukaemic["std"][2] > 2 * healthy["std"][2]  # the chroma spread the moments would "normalise" away


def test_matching_the_median_shifts_colour_without_stretching_it():
    img = _smear(10)
    target = {"median": [170.0, 140.0, 125.0], "statistic": "median"}
    out = reinhard(img, lab_stats(img), target)
    before, after = lab_stats(img), lab_stats(out)
    assert np.allclose(after["median"], target["median"], atol=1)
    assert np.allclose(after["std"], before["std"], atol=1)  # spread kept: no scaling
    with pytest.raises(ValueError, match="have none"):
        reinhard(img, {"mean": before["mean"], "std": before["std"]}, target)  # statistics from before the median
    with pytest.raises(ValueError, match="unknown stain statistic"):
        reinhard(img, before, {**target, "statistic": "mode"})


def test_a_target_is_the_mean_of_the_smears_statistics_in_its_own_form():
    stats = [lab_stats(_smear(n, seed=n)) for n in (2, 20)]
    median = target_of(stats, "median")
    assert median["statistic"] == "median" and set(median) == {"median", "statistic"}
    assert np.allclose(median["median"], np.mean([s["median"] for s in stats], axis=0))
    moments = target_of(stats, "moments")
    assert set(moments) == {"mean", "std"}  # the form every checkpoint before the median had


def test_smear_groups_average_each_statistic_by_acquisition_and_diagnosis():
    from inference.training.stain_groups import group_statistics

    stats = {n: lab_stats(_smear(k, seed=i)) for i, (n, k) in enumerate([("a", 1), ("b", 3), ("c", 15)])}
    smears = {"a": {"size": "9x9", "label": 0}, "b": {"size": "9x9", "label": 0}, "c": {"size": "9x9", "label": 1}}
    groups = group_statistics(stats, smears)
    assert list(groups) == ["9x9 ALL", "9x9 healthy"]
    assert groups["9x9 healthy"]["smears"] == 2
    expected = np.round(np.mean([stats["a"]["std"], stats["b"]["std"]], axis=0), 1).tolist()
    assert groups["9x9 healthy"]["std"] == expected
    assert groups["9x9 ALL"]["std"][2] > 2 * groups["9x9 healthy"]["std"][2]
