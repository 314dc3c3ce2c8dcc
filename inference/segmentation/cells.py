"""From cluster labels to individual white cells: cytoplasm growth, touching-cell splitting, regions.

A white cell is its accepted nucleus plus the cytoplasm-cluster pixels connected to it within
``CYTOPLASM_REACH_RBC`` red-cell diameters (cytoplasm alone is never a cell: pale red-cell edges share its
colour). Touching cells are split by a marker watershed in two stages (see ``split_cells``): first on the
distance transform of the cell mask, one marker per "own-disc" maximum (a point that is the highest within
its own inscribed radius), two markers merged unless the straight path between them crosses a neck
narrower than ``NECK_RATIO`` of the smaller radius; then, only for regions too big or too concave to be one
cell, on the distance transform of the nucleus mask. Every size is in red-cell diameters, so the rules
hold at any magnification.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage as ndi

from .kmeans import CYTOPLASM, NUCLEUS, disc, fill_holes

CYTOPLASM_REACH_RBC = 0.5
MIN_CELL_RBC_AREAS = 0.3
MIN_MARKER_RBC = 0.25  # a marker's inscribed radius, in red-cell diameters (small lymphocyte ~0.45)
# The largest single white cell we expect (a big blast or monocyte, ~2.3 red cells across) and the shape
# of one cell: regions beyond these are split on their nuclei.
MAX_SINGLE_RBC_AREAS = 5.5
MIN_SINGLE_SOLIDITY = 0.85
# Stage-two markers: a blast's nucleus fills most of the cell (inscribed radius >= ~0.5 red-cell diameters),
# a neutrophil's lobes are thin (~0.2-0.3), so only nucleus discs this big seed a cell of their own.
NUCLEUS_MARKER_RBC = 0.4
FLOOD_LEVELS = 24
NECK_RATIO = 0.72  # overlapping equal discs whose centres are 1.4 radii apart have a neck of ~0.71


def cell_mask(labels: np.ndarray, nucleus: np.ndarray, rbc_px: float) -> np.ndarray:
    """Nucleus plus connected cytoplasm within reach, holes filled, edges smoothed (bool mask)."""
    allowed = ((labels == CYTOPLASM) | (labels == NUCLEUS)).astype(np.uint8)
    grown = nucleus.astype(np.uint8)
    steps = max(1, int(round(CYTOPLASM_REACH_RBC * rbc_px)))
    kernel = np.ones((3, 3), np.uint8)
    for _ in range(steps):
        grown = cv2.dilate(grown, kernel) & allowed
    grown = cv2.morphologyEx(grown, cv2.MORPH_CLOSE, disc(0.1 * rbc_px))
    grown = cv2.morphologyEx(grown, cv2.MORPH_OPEN, disc(0.08 * rbc_px))
    return fill_holes(grown)


def own_disc_maxima(dist: np.ndarray) -> np.ndarray:
    """Pixels whose distance value r is the largest within radius ~r (one per round blob, none on saddles)."""
    keep = np.zeros(dist.shape, bool)
    top = float(dist.max())
    size, prev = 3, 0.0
    while prev < top:
        upper = size / 2.0 + 0.5
        band = (dist > prev) & (dist <= upper)
        if band.any():
            keep |= band & (dist >= cv2.dilate(dist, np.ones((size, size), np.uint8)))
        prev, size = upper, int(size * 1.4) | 1
    return keep


def _has_neck(dist: np.ndarray, a: tuple[float, float, float], b: tuple[float, float, float]) -> bool:
    (ya, xa, ra), (yb, xb, rb) = a, b
    n = int(max(abs(ya - yb), abs(xa - xb))) + 2
    ys = np.linspace(ya, yb, n).round().astype(int)
    xs = np.linspace(xa, xb, n).round().astype(int)
    return float(dist[ys, xs].min()) < NECK_RATIO * min(ra, rb)


def split_cells(mask: np.ndarray, rbc_px: float, nucleus: np.ndarray | None = None) -> np.ndarray:
    """Label image (int32, 0 = none) with touching cells separated, in two stages.

    1. Markers and necks from the distance transform of the cell mask: splits cells that touch at a neck.
    2. Only for regions that do not look like one cell (``looks_like_one_cell``), markers and necks from the
       distance transform of the nucleus mask inside the region: tightly packed blasts press into polygons
       whose cell mask has no neck at all, but the thin pale line between two nuclei still shows there. Round,
       convex regions are left whole, so the lobes of one neutrophil or eosinophil are never split apart.
    """
    first = _split_once(mask, mask, rbc_px)
    if nucleus is None:
        return first
    nuclei = fill_holes(nucleus) & mask
    out = first.copy()
    next_label = int(first.max()) + 1
    for i, sl in enumerate(ndi.find_objects(first), start=1):
        if sl is None:
            continue
        region = first[sl] == i
        if looks_like_one_cell(region, rbc_px):
            continue
        sub = _split_once(region, nuclei[sl] & region, rbc_px, min_marker_rbc=NUCLEUS_MARKER_RBC)
        if sub.max() > 1:
            out[sl][region] = sub[region] + next_label
            next_label += int(sub.max()) + 1
    return out


def looks_like_one_cell(region: np.ndarray, rbc_px: float) -> bool:
    """Morphological constraint: no bigger than the largest single white cell, and convex."""
    area = float(region.sum())
    if area > MAX_SINGLE_RBC_AREAS * np.pi * (rbc_px / 2.0) ** 2:
        return False
    contours, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    contour = max(contours, key=cv2.contourArea)
    hull = cv2.contourArea(cv2.convexHull(contour))
    return hull > 0 and area / hull >= MIN_SINGLE_SOLIDITY


def _split_once(
    mask: np.ndarray, seeds_from: np.ndarray, rbc_px: float, *, min_marker_rbc: float = MIN_MARKER_RBC
) -> np.ndarray:
    """Marker watershed of ``mask`` with markers and neck tests on the distance map of ``seeds_from``."""
    dist = cv2.distanceTransform(np.pad(seeds_from, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    peaks = own_disc_maxima(dist) & (dist >= min_marker_rbc * rbc_px)
    plabels, n = ndi.label(peaks)
    comp, ncomp = ndi.label(mask)
    if n == 0:
        return comp.astype(np.int32)
    ys, xs = np.nonzero(peaks)
    lab = plabels[ys, xs] - 1
    count = np.bincount(lab, minlength=n)
    centres = np.stack([np.bincount(lab, ys, n) / count, np.bincount(lab, xs, n) / count], axis=1)
    radii = np.zeros(n)
    np.maximum.at(radii, lab, dist[ys, xs])
    owner = np.zeros(n, int)
    owner[lab] = comp[ys, xs]  # a peak lies inside one component
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    by_owner: dict[int, list[int]] = {}
    for i, o in enumerate(owner):
        by_owner.setdefault(int(o), []).append(i)
    for members in by_owner.values():
        for a_i, i in enumerate(members):
            for j in members[a_i + 1 :]:
                a = (centres[i, 0], centres[i, 1], radii[i])
                b = (centres[j, 0], centres[j, 1], radii[j])
                if not _has_neck(dist, a, b):
                    parent[find(j)] = find(i)
    roots = np.array([find(i) for i in range(n)])
    out = comp.astype(np.int32)
    next_label = ncomp + 1
    cell_dist = cv2.distanceTransform(np.pad(mask, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    slices = ndi.find_objects(comp)
    for c in np.unique(owner):
        groups = np.unique(roots[owner == c])
        if len(groups) < 2:
            continue
        sl = slices[c - 1]
        seeds = np.zeros(comp[sl].shape, np.int32)
        for k, g in enumerate(groups):
            members = np.flatnonzero(roots == g) + 1
            seeds[np.isin(plabels[sl], members)] = next_label + k
        out[sl][comp[sl] == c] = _flood(-(dist[sl] + 0.1 * cell_dist[sl]), seeds, comp[sl] == c)[comp[sl] == c]
        next_label += len(groups)
    return out


def _flood(relief: np.ndarray, seeds: np.ndarray, mask: np.ndarray, levels: int = FLOOD_LEVELS) -> np.ndarray:
    """Marker watershed by flooding ``relief`` level by level, restricted to ``mask``.

    The relief is quantised into ``levels`` quantiles of its values inside the mask; at each level the
    labelled basins grow (4-connected dilations) into unlabelled pixels at or below that level until they
    stop. A priority queue in Python gives the exact watershed but costs ~10x more on a 2592x1944 field;
    with 24 levels the two differ only by a pixel or two along the dividing lines.
    """
    labels = seeds.astype(np.float32)
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    thresholds = np.quantile(relief[mask], np.linspace(0.0, 1.0, levels + 1)[1:])
    for level in thresholds:
        allowed = mask & (relief <= level)
        while True:
            grown = cv2.dilate(labels, cross)
            new = allowed & (labels == 0) & (grown > 0)
            if not new.any():
                break
            labels[new] = grown[new]
    return labels.astype(np.int32)
