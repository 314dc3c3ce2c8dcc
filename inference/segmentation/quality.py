"""Smear quality: focus, stain, and whether enough white cells were found to trust a count.

Focus is the variance of the Laplacian of the value channel measured at the working resolution, where a red
cell is always ``TARGET_RBC_PX`` pixels across: the same blur gives the same number at any magnification,
so one threshold serves every dataset.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..summary import MIN_CELLS
from ..types import Quality
from .colour import NUCLEUS_HUE_DEG, PixelFeatures, centre_hue_deg, hue_distance_deg

# Laplacian variance (value channel scaled 0..255, red cell 24 px): sharp ALL-IDB1/BCCD fields score far
# above this; a Gaussian blur of sigma 0.1 red-cell diameters brings them below it (see docs/segmentation.md).
FOCUS_MIN = 10.0
BACKGROUND_VALUE_MIN = 0.35  # darker than this the lamp or exposure is wrong
BACKGROUND_SATURATION_MAX = 0.35  # a strongly tinted background: over-stained or wrong white balance
NUCLEUS_HUE_TOLERANCE_DEG = 60.0


def focus_measure(value: np.ndarray) -> float:
    """Variance of the Laplacian of a (H, W) float value channel in 0..1, reported on the 0..255 scale."""
    # A light smoothing first: pixel noise and JPEG blocks would otherwise count as sharpness.
    smooth = cv2.GaussianBlur(value * 255.0, (0, 0), 1.0)
    lap = cv2.Laplacian(smooth, cv2.CV_32F, ksize=3)
    return float(lap.var())


def assess(
    px: PixelFeatures, labels: np.ndarray, nucleus: np.ndarray, n_cells: int, *, single_cell: bool = False
) -> Quality:
    """Quality flags and the stain numbers they were judged on."""
    focus = focus_measure(px.value)
    bg = labels == 0
    stain: dict[str, float] = {
        "background_value": round(px.background_value, 3),
        "background_saturation": round(float(np.median(px.saturation[bg])) if bg.any() else 0.0, 3),
        "stain_scale": round(px.stain_scale, 3),
    }
    flags: list[str] = []
    if nucleus.any():
        mean = px.features[nucleus].mean(axis=0)
        stain["nucleus_hue"] = round(centre_hue_deg(mean), 1)
        stain["nucleus_saturation"] = round(float(np.median(px.saturation[nucleus])), 3)
    if n_cells < (1 if single_cell else MIN_CELLS):
        flags.append("too_few_cells")
    if focus < FOCUS_MIN:
        flags.append("out_of_focus")
    off_hue = (
        "nucleus_hue" in stain and hue_distance_deg(stain["nucleus_hue"], NUCLEUS_HUE_DEG) > NUCLEUS_HUE_TOLERANCE_DEG
    )
    if (
        px.background_value < BACKGROUND_VALUE_MIN
        or stain["background_saturation"] > BACKGROUND_SATURATION_MAX
        or off_hue
    ):
        flags.append("stain_out_of_range")
    return Quality(focus=round(focus, 2), stain=stain, flags=tuple(flags))
