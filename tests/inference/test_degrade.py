"""The transfer augmentation: each degradation does what its name says, and the preset keeps shape and dtype."""

import numpy as np

from inference.training import degrade
from inference.training.data import AUGMENTS, Augment

from .classifier_synthetic import cell


def _sharpness(img: np.ndarray) -> float:
    g = img.astype(np.float64).mean(axis=2)
    return float(np.abs(np.diff(g, axis=0)).mean() + np.abs(np.diff(g, axis=1)).mean())


def test_it_loses_detail_when_a_red_cell_is_only_ten_pixels_across():
    img = cell(1, np.random.default_rng(0), size=96)
    out = degrade.low_resolution(img, np.random.default_rng(1), rbc_px=10, rbc_px_now=32, jpeg_quality=(90, 90))
    assert out.shape == img.shape and out.dtype == np.uint8
    assert _sharpness(out) < 0.6 * _sharpness(img)  # the pixel noise of the sharp crop is gone
    # but the cell is still there: the dark disc's mean colour barely moves
    assert abs(float(out.mean()) - float(img.mean())) < 3


def test_it_blurs_with_a_disk_and_keeps_brightness():
    img = cell(1, np.random.default_rng(0), size=96)
    out = degrade.defocus(img, 3)
    assert _sharpness(out) < 0.5 * _sharpness(img)
    assert abs(float(out.mean()) - float(img.mean())) < 1


def test_it_lights_one_side_brighter_than_the_other():
    flat = np.full((64, 64, 3), 160, np.uint8)
    for seed in range(5):
        out = degrade.uneven_illumination(flat, np.random.default_rng(seed), strength=0.3).astype(float)
        assert out.max() - out.min() > 15  # at least 0.3 * 0.5 of a ramp across the field


def test_it_changes_stain_but_leaves_white_background_nearly_white():
    img = cell(1, np.random.default_rng(0), size=64)
    img[:4, :4] = 255
    out = degrade.hed_jitter(img, np.random.default_rng(5), sigma=0.2, bias=0.0)
    assert np.abs(out.astype(int) - img.astype(int)).mean() > 1
    assert out[:4, :4].min() >= 250  # zero optical density scales to zero: gain never tints the background


def test_it_round_trips_colours_through_hed_space_without_jitter():
    img = cell(0, np.random.default_rng(0), size=32)
    out = degrade.hed_jitter(img, np.random.default_rng(0), sigma=0.0, bias=0.0)
    assert np.abs(out.astype(int) - img.astype(int)).max() <= 1


def test_it_compresses_as_jpeg():
    img = cell(1, np.random.default_rng(0), size=64)
    out = degrade.jpeg(img, 20)
    assert out.shape == img.shape and not np.array_equal(out, img)


def test_the_transfer_preset_degrades_more_than_the_strong_one():
    img = cell(1, np.random.default_rng(0), size=96)
    geometry_off = {"rotate": False, "flip": False, "scale": (1.0, 1.0), "shift_px": 0.0}

    def mean_sharpness(aug: Augment) -> float:
        rng = np.random.default_rng(1)
        return float(np.mean([_sharpness(aug(img, rng)) for _ in range(40)]))

    from dataclasses import replace

    transfer, strong = replace(AUGMENTS["transfer"], **geometry_off), replace(AUGMENTS["strong"], **geometry_off)
    out = AUGMENTS["transfer"](img, np.random.default_rng(2))
    assert out.shape == img.shape and out.dtype == np.uint8
    assert mean_sharpness(transfer) < 0.9 * mean_sharpness(strong)
    assert AUGMENTS["standard"] == Augment()  # the old presets are unchanged by the new fields
