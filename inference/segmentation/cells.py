"""From cluster labels to individual white cells: cytoplasm growth, touching-cell splitting, regions.

A white cell is its accepted nucleus plus the cytoplasm-cluster pixels connected to it within
``CYTOPLASM_REACH_RBC`` red-cell diameters (cytoplasm alone is never a cell: pale red-cell edges share its
colour). Touching cells are split by a marker watershed in two stages (see ``split_cells``): first on the
distance transform of the cell mask, one marker per "own-disc" maximum (a point that is the highest within
its own inscribed radius), two markers merged unless the straight path between them crosses a neck
narrower than ``NECK_RATIO`` of the smaller radius; then, only for regions too big or too concave to be one
cell, on the distance transform of the nucleus mask (and stages 3-5 for packed blasts, see ``split_cells``). Every size is in red-cell diameters, so the rules
hold at any magnification.
"""

from __future__ import annotations

from collections.abc import Callable

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
# Lobe regrouping (``merge_lobes``): two touching regions are lobes of one cell when neither nucleus is
# blast-sized (largest inscribed radius below LOBE_MAX_RADIUS_RBC; blasts' are >= ~0.55 on the training fields)
# and together they fill their convex hull (solidity >= LOBE_MIN_SOLIDITY) with cell or cytoplasm, not slide
# background (at most LOBE_MAX_BACKGROUND of the hull). Set on BCCD trainval and ALL-IDB1 even fields.
LOBE_MAX_RADIUS_RBC = 0.5
# Stage 3 (``split_packed``): the darker part of a too-big region (pixels above this quantile of its darkness) and
# the inscribed radius of one nucleus core there, in red-cell diameters. Set on ALL-IDB1 even fields.
PACKED_CORE_QUANTILE = 0.5
PACKED_MARKER_RBC = 0.3
PACKED_MIN_NUCLEUS_FRACTION = 0.75  # blasts: the nucleus fills most of the cell (high N:C), lobed granulocytes: not
LOBE_MIN_SOLIDITY = 0.8
LOBE_MAX_BACKGROUND = 0.1
# Lobe regrouping also for big lobes (second pass): two regions are lobes of one cell when both nuclei are below
# LOBE_BIG_RADIUS_RBC, the pair is less than LOBE_MAX_NUCLEUS_FRACTION nucleus (1.0 turns the rule off) and together
# they are nearly convex (LOBE_BIG_MIN_SOLIDITY: one round cell cut between its lobes, not two touching round cells,
# whose outline has notches). Without the solidity condition it joined the synthetic touching pairs of the tests;
# 0.96 and the resolution floor were set on those synthetic smears, then checked on BCCD trainval + ALL-IDB1 even
# fields (``seg_variants area_hmax+lobes_big_f0.6_s0.96``; see docs/results/segmentation.md).
LOBE_BIG_RADIUS_RBC = 0.7
LOBE_MAX_NUCLEUS_FRACTION = 0.6
# ... and when the two nuclei come within this many red-cell diameters of each other. 0 or less: no gap condition
# (as shipped; tried as a variant, ``_g0.15``).
LOBE_MAX_GAP_RBC = 0.0
LOBE_BIG_MIN_SOLIDITY = 0.96  # ... and the pair's union fills at least this share of its convex hull (0: no condition)
LOBE_BIG_MIN_RBC_PX = 20.0  # ... only where a red cell is at least this many working pixels (shapes too coarse below)
# Stage 4 (``split_by_area``, second pass): a region >= AREA_SPLIT_MIN_NUCLEUS_FRACTION nucleus and at least
# AREA_SPLIT_MIN_K expected blast areas is split into at most k = round(area / blast area) cells, seeded at the
# h-maxima (h = AREA_SPLIT_H_RBC red-cell diameters) of its nucleus distance transform (``topk``: at its k highest
# maxima a blast radius apart). The blast area, 3.0 red-cell areas, is the median single-blast detection of the even
# ALL-IDB1 fields (IQR 2.55-3.42); 0 turns stage 4 off. Variants compared in seg_variants on training images.
AREA_SPLIT_BLAST_RBC = 3.0
AREA_SPLIT_MIN_K = 1.5  # a region this many blast areas or more is a candidate
AREA_SPLIT_H_RBC = 0.1
AREA_SPLIT_SEEDS = "hmax"
AREA_SPLIT_MIN_NUCLEUS_FRACTION = 0.75
AREA_SPLIT_FALLBACK = False  # with fewer than 2 h-maxima: k spatial clusters of the region's pixels instead
AREA_SPLIT_NOT_ONE_CELL = False  # only regions that do not look like one cell (``looks_like_one_cell``)
# Stage 5 (``split_at_concavity``): a region that still does not look like one cell and is mostly nucleus
# (>= AREA_SPLIT_MIN_NUCLEUS_FRACTION) is cut along the straight line between two deep notches of its outline
# (convexity defects at least CONCAVE_MIN_DEPTH_RBC red-cell diameters deep) when that line is short for the notches'
# depth (length <= CONCAVE_MAX_RATIO x the two depths together): the outline of blasts pressed together without a
# neck or a pale line between them. Cuts repeat on the pieces (at most CONCAVE_MAX_CUTS per region); each piece must
# keep at least CONCAVE_MIN_PIECE_RBC red-cell areas. 0 depth turns stage 5 off. The ratio follows NECK_RATIO: two
# equal discs whose neck is 0.72 of their radius leave notches whose cut is 0.72 / (1 - 0.72) = 2.5 x their depths
# together. Depth 0.15 and ratio 2.5 were checked on training images only (``seg_variants concave_d0.15_r2.5``: one
# more even-field blast of its own, BCCD trainval unchanged; 1.2 changed nothing there).
CONCAVE_MIN_DEPTH_RBC = 0.15
CONCAVE_MAX_RATIO = 2.5
CONCAVE_MAX_CUTS = 4
CONCAVE_MIN_PIECE_RBC = 1.0


def cell_mask(labels: np.ndarray, nucleus: np.ndarray, rbc_px: float) -> np.ndarray:
    """Nucleus plus connected cytoplasm within reach, holes filled, edges smoothed (bool mask)."""
    allowed = ((labels == CYTOPLASM) | (labels == NUCLEUS)).astype(np.uint8)
    grown: np.ndarray = nucleus.astype(np.uint8)
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


def split_cells(
    mask: np.ndarray, rbc_px: float, nucleus: np.ndarray | None = None, darkness: np.ndarray | None = None
) -> np.ndarray:
    """Label image (int32, 0 = none) with touching cells separated, in up to three stages.

    1. Markers and necks from the distance transform of the cell mask: splits cells that touch at a neck.
    2. Only for regions that do not look like one cell (``looks_like_one_cell``), markers and necks from the
       distance transform of the nucleus mask inside the region: tightly packed blasts press into polygons
       whose cell mask has no neck at all, but the thin pale line between two nuclei still shows there. Round,
       convex regions are left whole, so the lobes of one neutrophil or eosinophil are never split apart.
    3. With ``darkness`` (a smoothed nucleus score per pixel), for regions that still do not look like one cell:
       markers and necks from the darker part of the region (``split_packed``), where the pale lines between
       nuclei pressed together show although the nucleus mask merged them. Markers need a core of inscribed
       radius ``PACKED_MARKER_RBC``, thicker than a neutrophil's lobes; ``merge_lobes`` rejoins lobes after.
    4. With ``AREA_SPLIT_BLAST_RBC`` > 0, regions that are mostly nucleus and about k blast areas big are cut at the
       h-maxima of their nucleus distance transform (``split_by_area``): a shallow waist between fused nuclei.
    5. With ``CONCAVE_MIN_DEPTH_RBC`` > 0, mostly-nucleus regions that still do not look like one cell are cut
       straight between two deep notches of their outline (``split_at_concavity``).
    """
    first = _split_once(mask, mask, rbc_px)
    if nucleus is None:
        return first
    nuclei = fill_holes(nucleus) & mask
    out = _resplit(
        first,
        lambda region, sl: (
            None
            if looks_like_one_cell(region, rbc_px)
            else _split_once(region, nuclei[sl] & region, rbc_px, min_marker_rbc=NUCLEUS_MARKER_RBC)
        ),
    )
    if darkness is not None:
        out = split_packed(out, darkness, nuclei, rbc_px)
    if AREA_SPLIT_BLAST_RBC > 0:
        out = split_by_area(out, nuclei, rbc_px)
    return split_at_concavity(out, nuclei, rbc_px) if CONCAVE_MIN_DEPTH_RBC > 0 else out


def split_at_concavity(labels: np.ndarray, nuclei: np.ndarray, rbc_px: float) -> np.ndarray:
    """Stage 5: cut mostly-nucleus regions that do not look like one cell between two deep notches (``CONCAVE_*``)."""
    min_piece = CONCAVE_MIN_PIECE_RBC * np.pi * (rbc_px / 2.0) ** 2

    def split(region: np.ndarray, sl: tuple[slice, ...]) -> np.ndarray | None:
        if (
            looks_like_one_cell(region, rbc_px)
            or (nuclei[sl] & region).sum() < AREA_SPLIT_MIN_NUCLEUS_FRACTION * region.sum()
        ):
            return None
        pieces = [np.pad(region, 1)]
        done: list[np.ndarray] = []
        cuts = 0
        while pieces:
            piece = pieces.pop()
            cut = _concave_cut(piece, rbc_px, min_piece) if cuts < CONCAVE_MAX_CUTS else None
            if cut is None:
                done.append(piece)
                continue
            cuts += 1
            pieces += cut
        sub = np.zeros(region.shape, np.int32)
        for k, piece in enumerate(done, start=1):
            sub[piece[1:-1, 1:-1]] = k
        # the cut lines' pixels go to the nearest piece
        gap = region & (sub == 0)
        if gap.any() and len(done) > 1:
            _, (iy, ix) = ndi.distance_transform_edt(sub == 0, return_indices=True)
            sub[gap] = sub[iy[gap], ix[gap]]
        return sub

    return _resplit(labels, split)


def _resplit(labels: np.ndarray, split: Callable[[np.ndarray, tuple[slice, ...]], np.ndarray | None]) -> np.ndarray:
    """Give every region of ``labels`` to ``split(region mask, its slice)``; a returned label image (0 = none, 1..k
    the parts) with two or more parts replaces the region under new labels, None or one part leaves it."""
    out = labels.copy()
    next_label = int(labels.max()) + 1
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        if sl is None:
            continue
        region = labels[sl] == i
        sub = split(region, sl)
        if sub is None or sub.max() < 2:
            continue
        out[sl][region] = sub[region] + next_label
        next_label += int(sub.max()) + 1
    return out


def _notches(
    points: np.ndarray, defects: np.ndarray, min_depth: float, rbc_px: float
) -> list[tuple[np.ndarray, float]]:
    """Every notch of an outline at least ``min_depth`` deep, as (point, depth).

    OpenCV reports one defect per hull edge, its deepest point; three cells in a row share a hull edge on each side,
    so each edge's stretch of outline is searched for every local depth maximum (a window of half a red cell).
    """
    n = len(points)
    window = max(2, int(0.5 * rbc_px))
    found = []
    for start, end, _, _ in defects:
        idx = np.arange(start, end + (n if end < start else 0) + 1) % n
        a, b = points[start], points[end]
        edge = b - a
        length = float(np.hypot(*edge))
        if length == 0:
            continue
        depth = np.abs(edge[0] * (points[idx, 1] - a[1]) - edge[1] * (points[idx, 0] - a[0])) / length
        for k in np.flatnonzero(depth >= min_depth):
            lo, hi = max(0, k - window), min(len(idx), k + window + 1)
            if depth[k] == depth[lo:hi].max() and (k == lo or depth[k] > depth[lo:k].max()):
                found.append((points[idx[k]], float(depth[k])))
    return found


def _concave_cut(piece: np.ndarray, rbc_px: float, min_piece: float) -> list[np.ndarray] | None:
    """The best straight cut of ``piece`` between two deep convexity defects, as its pieces; None: no such cut."""
    if looks_like_one_cell(piece, rbc_px):
        return None
    contours, _ = cv2.findContours(piece.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contour = max(contours, key=cv2.contourArea)
    if len(contour) < 8:
        return None
    defects = cv2.convexityDefects(contour, cv2.convexHull(contour, returnPoints=False))
    if defects is None:
        return None
    deep = _notches(contour[:, 0].astype(np.float64), defects.reshape(-1, 4), CONCAVE_MIN_DEPTH_RBC * rbc_px, rbc_px)
    pairs = []
    for a in range(len(deep)):
        for b in range(a + 1, len(deep)):
            (pa, da), (pb, db) = deep[a], deep[b]
            ratio = float(np.hypot(*(pa - pb))) / (da + db)
            if ratio <= CONCAVE_MAX_RATIO:
                pairs.append((ratio, a, b))
    for _, a, b in sorted(pairs):  # the shortest cut for its depth whose two sides are both cell-sized
        cut = piece.astype(np.uint8)
        cv2.line(cut, tuple(int(v) for v in deep[a][0]), tuple(int(v) for v in deep[b][0]), 0, 2)
        comp, n = ndi.label(cut)
        if n < 2:
            continue
        big = np.flatnonzero(np.bincount(comp.ravel())[1:] >= min_piece) + 1
        if len(big) >= 2:
            return [comp == k for k in big]
    return None


def split_by_area(labels: np.ndarray, nuclei: np.ndarray, rbc_px: float) -> np.ndarray:
    """Stage 4: split a mostly-nucleus region of about k expected blast areas into k cells (see ``AREA_SPLIT_*``)."""
    blast_area = AREA_SPLIT_BLAST_RBC * np.pi * (rbc_px / 2.0) ** 2

    def split(region: np.ndarray, sl: tuple[slice, ...]) -> np.ndarray | None:
        area = float(region.sum())
        nuc = nuclei[sl] & region
        if area < AREA_SPLIT_MIN_K * blast_area or nuc.sum() < AREA_SPLIT_MIN_NUCLEUS_FRACTION * area:
            return None
        if AREA_SPLIT_NOT_ONE_CELL and looks_like_one_cell(region, rbc_px):
            return None
        k = max(2, int(round(area / blast_area)))
        dist = cv2.distanceTransform(np.pad(nuc, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
        seeds = _area_seeds(dist, k, rbc_px, np.sqrt(blast_area / np.pi))
        if seeds.max() < 2 and AREA_SPLIT_FALLBACK:
            seeds = _spatial_seeds(region, k)
        if seeds.max() < 2:
            return None
        cell_dist = cv2.distanceTransform(np.pad(region, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
        sub = _flood(-(dist + 0.1 * cell_dist), seeds, region)
        sub[region & (sub == 0)] = 1
        return sub

    return _resplit(labels, split)


def _spatial_seeds(region: np.ndarray, k: int, iterations: int = 10) -> np.ndarray:
    """k clusters of the region's pixel coordinates (Lloyd, started evenly along the principal axis) as seeds."""
    ys, xs = np.nonzero(region)
    pts = np.stack([ys, xs], axis=1).astype(np.float64)
    mean = pts.mean(axis=0)
    _, _, vt = np.linalg.svd(pts - mean, full_matrices=False)
    proj = (pts - mean) @ vt[0]
    centres = np.stack([pts[np.argmin(np.abs(proj - q))] for q in np.quantile(proj, (np.arange(k) + 0.5) / k)])
    for _ in range(iterations):
        near = np.argmin(((pts[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
        centres = np.stack([pts[near == c].mean(axis=0) if (near == c).any() else centres[c] for c in range(k)])
    seeds = np.zeros(region.shape, np.int32)
    seeds[ys, xs] = near + 1
    return seeds


def _area_seeds(dist: np.ndarray, k: int, rbc_px: float, blast_radius: float) -> np.ndarray:
    """At most k seed blobs (labels 1..) on a nucleus distance map: h-maxima, or the k highest separated maxima."""
    floor = PACKED_MARKER_RBC * rbc_px
    if AREA_SPLIT_SEEDS == "hmax":
        h = AREA_SPLIT_H_RBC * rbc_px
        rec = np.maximum(dist - h, 0).astype(np.float32)
        kernel = np.ones((3, 3), np.uint8)
        while True:  # grey reconstruction by dilation of dist - h under dist
            nxt = np.minimum(cv2.dilate(rec, kernel), dist)
            if np.array_equal(nxt, rec):
                break
            rec = nxt
        peaks = (dist - rec >= h - 1e-3) & (dist >= floor)
        lab, n = ndi.label(peaks, structure=np.ones((3, 3)))
        if n > k:  # keep the k highest
            top = np.asarray(ndi.maximum(dist, lab, np.arange(1, n + 1)))
            keep = np.argsort(-top)[:k] + 1
            lab = np.where(np.isin(lab, keep), lab, 0)
            lab, n = ndi.label(lab > 0, structure=np.ones((3, 3)))
        return lab.astype(np.int32)
    cand = own_disc_maxima(dist) & (dist >= floor)
    ys, xs = np.nonzero(cand)
    order = np.argsort(-dist[ys, xs])
    chosen: list[tuple[int, int]] = []
    for y, x in zip(ys[order], xs[order], strict=True):
        if all((y - cy) ** 2 + (x - cx) ** 2 >= blast_radius**2 for cy, cx in chosen):
            chosen.append((int(y), int(x)))
            if len(chosen) == k:
                break
    seeds = np.zeros(dist.shape, np.int32)
    for n, (y, x) in enumerate(chosen, start=1):
        cv2.circle(seeds, (x, y), max(1, int(0.1 * rbc_px)), n, -1)
    return seeds * (dist > 0)


def split_packed(labels: np.ndarray, darkness: np.ndarray, nuclei: np.ndarray, rbc_px: float) -> np.ndarray:
    """Stage 3 of ``split_cells``: split regions that do not look like one cell on the darker part of their pixels."""

    def split(region: np.ndarray, sl: tuple[slice, ...]) -> np.ndarray | None:
        if (
            looks_like_one_cell(region, rbc_px)
            or (nuclei[sl] & region).sum() < PACKED_MIN_NUCLEUS_FRACTION * region.sum()
        ):
            return None
        dark = darkness[sl]
        core = region & (dark >= np.quantile(dark[region], PACKED_CORE_QUANTILE))
        core = cv2.morphologyEx(core.astype(np.uint8), cv2.MORPH_OPEN, disc(0.08 * rbc_px)).astype(bool)
        return _split_once(region, core, rbc_px, min_marker_rbc=PACKED_MARKER_RBC)

    return _resplit(labels, split)


def merge_lobes(labels: np.ndarray, nucleus: np.ndarray, background: np.ndarray, rbc_px: float) -> np.ndarray:
    """Join touching regions that are the lobes of one lobed cell (see ``LOBE_*``); labels are kept, not renumbered.

    A bilobed eosinophil or a neutrophil whose pale or granular cytoplasm clustered with red cells reaches the
    splitter as two or more nucleus lobes at a neck, and is cut there like two touching cells. What tells the two
    apart: lobes are small nucleus pieces inside one shared, filled outline, while each of two touching cells has a
    nucleus of its own that fills most of it, and background shows in the notches between them.
    """
    nuclei = fill_holes(nucleus)
    out = labels.copy()
    objects = ndi.find_objects(labels)
    radius: dict[int, float] = {}
    for i, sl in enumerate(objects, start=1):
        if sl is None:
            continue
        own = (labels[sl] == i) & nuclei[sl]
        d = cv2.distanceTransform(np.pad(own, 1).astype(np.uint8), cv2.DIST_L2, 5)
        radius[i] = float(d.max()) / rbc_px
    parent = {i: i for i in radius}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    cross = np.ones((3, 3), np.uint8)
    h, w = labels.shape
    for i, r_i in radius.items():
        if not 0 < r_i < max(LOBE_MAX_RADIUS_RBC, LOBE_BIG_RADIUS_RBC if LOBE_MAX_NUCLEUS_FRACTION < 1 else 0):
            continue
        sl = objects[i - 1]
        y0, y1 = max(0, sl[0].start - 2), min(h, sl[0].stop + 2)
        x0, x1 = max(0, sl[1].start - 2), min(w, sl[1].stop + 2)
        win = labels[y0:y1, x0:x1]
        ring = cv2.dilate((win == i).astype(np.uint8), cross).astype(bool) & (win != i)
        for j in np.unique(win[ring]):
            j = int(j)
            if (
                j == 0
                or find(i) == find(j)
                or not _lobe_pair(r_i, radius.get(j, 0.0), labels, nuclei, i, j, objects, rbc_px)
            ):
                continue
            if _one_outline(labels, background, i, j, objects):
                parent[find(j)] = find(i)
    for i in radius:
        root = find(i)
        if root != i:
            out[labels == i] = root
    return out


def _lobe_pair(
    r_i: float, r_j: float, labels: np.ndarray, nuclei: np.ndarray, i: int, j: int, objects: list, rbc_px: float
) -> bool:
    """Are two touching regions' nuclei small enough for lobes (``LOBE_MAX_RADIUS_RBC``, or the big-lobe rule)?"""
    if 0 < r_i < LOBE_MAX_RADIUS_RBC and 0 < r_j < LOBE_MAX_RADIUS_RBC:
        return True
    if LOBE_MAX_NUCLEUS_FRACTION >= 1 or rbc_px < LOBE_BIG_MIN_RBC_PX:
        return False
    if not (0 < r_i < LOBE_BIG_RADIUS_RBC and 0 < r_j < LOBE_BIG_RADIUS_RBC):
        return False
    a, b = objects[i - 1], objects[j - 1]
    sl = (
        slice(min(a[0].start, b[0].start), max(a[0].stop, b[0].stop)),
        slice(min(a[1].start, b[1].start), max(a[1].stop, b[1].stop)),
    )
    union = (labels[sl] == i) | (labels[sl] == j)
    if float((union & nuclei[sl]).sum()) >= LOBE_MAX_NUCLEUS_FRACTION * float(union.sum()):
        return False
    if LOBE_BIG_MIN_SOLIDITY > 0:
        contours, _ = cv2.findContours(union.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        hull = cv2.contourArea(cv2.convexHull(np.vstack(contours)))
        if hull <= 0 or float(union.sum()) / hull < LOBE_BIG_MIN_SOLIDITY:
            return False
    if LOBE_MAX_GAP_RBC <= 0:
        return True
    near_i = cv2.dilate(((labels[sl] == i) & nuclei[sl]).astype(np.uint8), disc(LOBE_MAX_GAP_RBC * rbc_px))
    return bool((near_i.astype(bool) & (labels[sl] == j) & nuclei[sl]).any())


def _one_outline(labels: np.ndarray, background: np.ndarray, i: int, j: int, objects: list) -> bool:
    """Do regions i and j together fill their convex hull, with little slide background inside it?"""
    a, b = objects[i - 1], objects[j - 1]
    sl = (
        slice(min(a[0].start, b[0].start), max(a[0].stop, b[0].stop)),
        slice(min(a[1].start, b[1].start), max(a[1].stop, b[1].stop)),
    )
    union = ((labels[sl] == i) | (labels[sl] == j)).astype(np.uint8)
    contours, _ = cv2.findContours(union, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = np.zeros_like(union)
    cv2.fillPoly(hull, [cv2.convexHull(np.vstack(contours))], 1)
    hull_area = float(hull.sum())
    if hull_area == 0 or union.sum() / hull_area < LOBE_MIN_SOLIDITY:
        return False
    return float((hull.astype(bool) & background[sl]).sum()) / hull_area <= LOBE_MAX_BACKGROUND


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
            group_labels = np.flatnonzero(roots == g) + 1
            seeds[np.isin(plabels[sl], group_labels)] = next_label + k
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
