"""Estimate the red-cell diameter in pixels from the image itself.

Every size rule of the segmentation is a multiple of this diameter, so one pipeline serves 2592x1944 and
1712x1368 ALL-IDB1 fields, 640x480 BCCD fields and small patches without per-dataset settings.

Method: granulometry. On a copy downscaled to at most ``SCALE_WORK_PX`` on its long side, cells are
separated from the slide background (Otsu on the Lab distance to the background colour, clipped so white
cells do not dominate the threshold), pale red-cell centres are filled, and the mask is opened with discs
of growing radius (each opening is two distance transforms). The *pattern spectrum*, how much area each
radius step removes, peaks at the radius of the most common blob: red cells, which cover far more of a
smear than anything else. Touching red cells do not fool it the way connected-component sizes do: an
opening removes the neck between two discs long before the discs themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .colour import NUCLEUS_HUE_DEG
from .kmeans import fill_holes

SCALE_WORK_PX = 512  # long side of the copy used for estimating scale
RADIUS_STEP = 1.12  # geometric step between tested radii (the estimate's resolution, ~6%)
MIN_RADIUS_PX = 2.0
MIN_PEAK_SHARE = 0.12  # the winning radius bin must remove this share of the cell area to be trusted
MIN_MEASURABLE_PX = 8.0  # red cells narrower than this on the shrunk copy are measured again on a crop
MIN_RBC_PER_SIDE = 6.0  # a smear field is at least this many red cells across its short side (BCCD: ~6)
DEEP_SHRINK = 0.5  # the plausibility check applies to fields shrunk more than this for the first estimate
CROP_PX = 768  # side of the centre crop for the second estimate (shrunk to SCALE_WORK_PX)


@dataclass(frozen=True)
class ScaleEstimate:
    """Red-cell diameter in pixels of the original image and whether the spectrum had a clear peak."""

    rbc_diameter_px: float
    peak_share: float  # fraction of the cell area removed at the winning radius step
    reliable: bool


def stained_mask(rgb: np.ndarray) -> np.ndarray:
    """Strongly stained blue-violet pixels: white-cell nuclei and cytoplasm, platelets."""
    hsv = cv2.cvtColor(rgb.astype(np.float32) * (1.0 / 255.0), cv2.COLOR_RGB2HSV)
    hue, sat = hsv[..., 0], hsv[..., 1]
    off = np.abs((hue - NUCLEUS_HUE_DEG + 180.0) % 360.0 - 180.0)
    return (off <= 50.0) & (sat >= max(0.25, 2.0 * float(np.median(sat))))


def foreground_mask(rgb: np.ndarray, stained: np.ndarray | None = None) -> np.ndarray:
    """Cells (any kind) versus slide background, as a bool mask with holes filled."""
    stained = stained_mask(rgb) if stained is None else stained
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    light = lab[..., 0]
    # The background is the brightest common colour: take the median Lab of the brightest fifth.
    bright = light >= np.percentile(light, 80)
    bg = np.median(lab[bright], axis=0)
    dist = np.sqrt(((lab - bg) ** 2).sum(axis=2))
    # The threshold is chosen on unstained pixels only, clipped at their 90th percentile: on fields packed
    # with blasts, white cells would otherwise pull Otsu's threshold between red and white cells instead
    # of between red cells and background.
    plain = dist[~stained] if (~stained).sum() > 100 else dist.ravel()
    top = max(float(np.percentile(plain, 90)), 1.0)
    dist8 = cv2.GaussianBlur(np.clip(dist * (255.0 / top), 0, 255).astype(np.uint8), (3, 3), 0)
    plain8 = dist8[~stained] if (~stained).sum() > 100 else dist8.ravel()
    otsu, _ = cv2.threshold(plain8.reshape(1, -1), 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Below Otsu: pale red-cell centres and thin rims are closer to the background than the cell body is,
    # and a mask that keeps their rims closed lets hole filling restore whole discs.
    fg = ((dist8 > 0.75 * otsu) | stained).astype(np.uint8)
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    return fill_holes(fg.astype(bool))


def pattern_spectrum(fg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Radii tested and the cell area surviving an opening by a disc of each radius."""
    # Cells cut by the image border are treated as continuing outside it, not as shrinking there.
    inside_open = cv2.distanceTransform(fg.astype(np.uint8), cv2.DIST_L2, 5)
    top = min(float(inside_open.max()), min(fg.shape) / 2.0)
    radii = [MIN_RADIUS_PX]
    while radii[-1] * RADIUS_STEP <= top:
        radii.append(radii[-1] * RADIUS_STEP)
    surviving = []
    for r in radii:
        core = inside_open > r
        if not core.any():
            surviving.append(0)
            continue
        # Opening = dilation of the eroded core by the same disc: pixels within r of the core.
        to_core = cv2.distanceTransform((~core).astype(np.uint8), cv2.DIST_L2, 5)
        surviving.append(int(((to_core <= r) & fg).sum()))
    return np.asarray(radii), np.asarray(surviving, np.float64)


def estimate_rbc_diameter(rgb: np.ndarray) -> ScaleEstimate:
    """Estimate the red-cell diameter in pixels of ``rgb`` (at its own resolution).

    First on the whole image shrunk to ``SCALE_WORK_PX``. A big field of small red cells (2592x1944 at 12-15 px)
    shrunk that much shows red cells 2-3 px across, and the spectrum then measures clumps: the answer is either
    too small to have been measured (under ``MIN_MEASURABLE_PX`` on the shrunk copy) or, where the copy was shrunk
    more than ``DEEP_SHRINK``, fewer than ``MIN_RBC_PER_SIDE`` red cells across the field's short side. Then the
    diameter is measured again on a centre crop of ``CROP_PX``, shrunk less. Fields shrunk less than that (BCCD's
    640x480) and fields whose first answer is plausible (ALL-IDB1) are measured once, as before.
    """
    h, w = rgb.shape[:2]
    first = _estimate(rgb)
    s = min(1.0, SCALE_WORK_PX / max(h, w))
    too_small = first.rbc_diameter_px * s < MIN_MEASURABLE_PX
    implausible = s < DEEP_SHRINK and first.rbc_diameter_px > min(h, w) / MIN_RBC_PER_SIDE
    if s >= 1.0 or not (too_small or implausible):
        return first
    side = min(h, w, CROP_PX)
    y0, x0 = (h - side) // 2, (w - side) // 2
    return _estimate(rgb[y0 : y0 + side, x0 : x0 + side])


def _estimate(rgb: np.ndarray) -> ScaleEstimate:
    h, w = rgb.shape[:2]
    s = min(1.0, SCALE_WORK_PX / max(h, w))
    small = cv2.resize(rgb, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1.0 else rgb
    stained = stained_mask(small)
    # White cells can cover more of a blast-packed field than red cells and would win the spectrum:
    # leave them (slightly dilated) out, so the spectrum measures what the scale is defined by.
    white = cv2.dilate(stained.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    fg = foreground_mask(small, stained) & ~white
    total = float(fg.sum())
    if total < 50:
        return ScaleEstimate(min(h, w) / 4.0, 0.0, False)
    radii, surviving = pattern_spectrum(fg)
    if len(radii) < 2:
        return ScaleEstimate(min(h, w) / 4.0, 0.0, False)
    # Area removed between radius k and k+1. What survives the largest radius (sheets of overlapping cells
    # in thick areas) is not a size at all, so it is left out rather than counted at the last step.
    removed = surviving[:-1] - surviving[1:]
    k = int(np.argmax(removed))
    # A disc survives openings up to its own radius and vanishes at the next step; a parabola through the
    # winning step and its neighbours (in log radius) places the peak between steps.
    offset = 0.0
    if 0 < k < len(removed) - 1:
        a, b, c = removed[k - 1], removed[k], removed[k + 1]
        curvature = a - 2.0 * b + c
        if curvature < 0:
            offset = float(np.clip(0.5 * (a - c) / curvature, -0.5, 0.5))
    radius = float(np.sqrt(radii[k] * radii[k + 1]) * RADIUS_STEP**offset)
    share = float(removed[k] / total)
    return ScaleEstimate(2.0 * radius / s, share, share >= MIN_PEAK_SHARE)
