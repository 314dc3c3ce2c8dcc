"""Estimate the red-cell diameter in pixels from the image itself.

Every size rule of the segmentation is a multiple of this diameter, so one pipeline serves 2592x1944 and
1712x1368 ALL-IDB1 fields, 640x480 BCCD fields and small patches without per-dataset settings.

Method: on a copy downscaled to at most ``SCALE_WORK_PX`` on its long side, separate cells from the slide
background (Otsu on the colour distance to the background), fill the pale centres of red cells, and take the
distance transform. Each whole red cell contributes one regional maximum whose value is its inscribed
radius; ridges between touching cells contribute lower values. The diameter is twice a high quantile of the
peak radii among peaks not cut by the image border (red cells outnumber white cells by ~500:1 in blood,
so white-cell peaks barely move the quantile). With too few peaks (a single-cell crop), the largest
peak and the image size give a conservative fallback and ``reliable`` is False.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage as ndi

SCALE_WORK_PX = 640  # long side of the copy used for estimating scale
MIN_PEAKS = 6  # fewer whole red cells than this and the estimate is a fallback
PEAK_QUANTILE = 0.6  # ridge maxima pull lower quantiles down; white cells pull the top up


@dataclass(frozen=True)
class ScaleEstimate:
    """Red-cell diameter in pixels of the original image and whether enough cells supported it."""

    rbc_diameter_px: float
    n_peaks: int
    reliable: bool


def foreground_mask(rgb: np.ndarray) -> np.ndarray:
    """Cells (any kind) versus slide background, as a bool mask with holes filled."""
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    light = lab[..., 0]
    # The background is the brightest common colour: take the median Lab of the brightest fifth.
    bright = light >= np.percentile(light, 80)
    bg = np.median(lab[bright], axis=0)
    dist = np.sqrt(((lab - bg) ** 2).sum(axis=2))
    # Clip at a high percentile: white cells are far more saturated than red cells and would otherwise pull
    # Otsu's threshold between red and white cells instead of between red cells and background.
    top = max(float(np.percentile(dist, 90)), 1.0)
    dist8 = np.clip(dist * (255.0 / top), 0, 255).astype(np.uint8)
    dist8 = cv2.GaussianBlur(dist8, (3, 3), 0)
    otsu, _ = cv2.threshold(dist8, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Below Otsu: pale red-cell centres and thin rims are closer to the background than the cell body is,
    # and a mask that keeps their rims closed lets hole filling restore whole discs.
    fg = (dist8 > 0.75 * otsu).astype(np.uint8)
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    return ndi.binary_fill_holes(fg.astype(bool))


def estimate_rbc_diameter(rgb: np.ndarray) -> ScaleEstimate:
    """Estimate the red-cell diameter in pixels of ``rgb`` (at its own resolution)."""
    h, w = rgb.shape[:2]
    s = min(1.0, SCALE_WORK_PX / max(h, w))
    small = cv2.resize(rgb, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1.0 else rgb
    fg = foreground_mask(small)
    diameters = _isolated_disc_diameters(fg)
    if diameters.size >= MIN_PEAKS:
        return ScaleEstimate(_area_weighted_median(diameters) / s, int(diameters.size), True)
    padded = np.pad(fg, 1).astype(np.uint8)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]
    peaks = (dist >= 2.0) & _is_own_disc_maximum(dist)
    labels, n = ndi.label(peaks)
    if n == 0:
        return ScaleEstimate(min(h, w) / 4.0, 0, False)
    idx = np.arange(1, n + 1)
    values = np.asarray(ndi.maximum(dist, labels, idx))
    ys, xs = np.asarray(ndi.center_of_mass(peaks, labels, idx)).T
    sh, sw = fg.shape
    to_border = np.minimum.reduce([xs + 1, ys + 1, sw - xs, sh - ys])
    radii = values[values < to_border - 1.0]  # inscribed disc not cut by the border
    if radii.size >= MIN_PEAKS:
        return ScaleEstimate(2.0 * _area_weighted_median(radii) / s, int(radii.size), True)
    # A crop around one white cell: the largest disc is the white cell, about 1.5 red cells across.
    largest = float(values.max()) * 2.0 / s
    return ScaleEstimate(max(largest / 1.5, min(h, w) / 8.0), int(radii.size), False)


def _area_weighted_median(sizes: np.ndarray) -> float:
    """Median size as seen by a random pixel rather than a random blob: specks and noise peaks weigh little."""
    order = np.sort(sizes)
    cum = np.cumsum(order**2)
    return float(order[np.searchsorted(cum, cum[-1] / 2.0)])


def _isolated_disc_diameters(fg: np.ndarray) -> np.ndarray:
    """Equivalent diameters of whole, convex, isolated blobs (single red cells), not touching the border."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg.astype(np.uint8), connectivity=8)
    h, w = fg.shape
    out = []
    for i in range(1, n):
        x, y, bw, bh, area = stats[i]
        if area < 30 or x == 0 or y == 0 or x + bw >= w or y + bh >= h:
            continue
        if not 0.75 <= bw / bh <= 1.33:
            continue
        contours, _ = cv2.findContours(
            (labels[y : y + bh, x : x + bw] == i).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
        )
        hull = cv2.contourArea(cv2.convexHull(contours[0]))
        if hull > 0 and area / hull >= 0.92:
            out.append(2.0 * np.sqrt(area / np.pi))
    return np.asarray(out)


def _is_own_disc_maximum(dist: np.ndarray) -> np.ndarray:
    """Pixels whose distance value r is the maximum within radius ~r of themselves.

    A cell centre dominates its own inscribed disc; a saddle point between two touching cells does not
    (walking towards either centre raises the distance), so this keeps one peak per cell without a scale.
    """
    keep = np.zeros(dist.shape, bool)
    size = 3
    prev = 0.0
    while prev < float(dist.max()):
        band = (dist > prev) & (dist <= size / 2.0 + 0.5)
        if band.any():
            keep |= band & (dist >= ndi.maximum_filter(dist, size=size))
        prev = size / 2.0 + 0.5
        size = int(size * 1.5) | 1
    return keep
