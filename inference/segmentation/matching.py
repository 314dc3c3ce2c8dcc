"""One-to-one scoring of detected cells against annotated cells: each cell counted once, or it is an error.

A white-cell count is only as good as "one cell, one detection", so every score here pairs each annotated
cell with at most one detection and each detection with at most one annotated cell:

* boxes (BCCD): a maximum-cardinality, then maximum-IoU, bipartite matching (Hungarian, ``scipy``), pairs below
  ``IOU_MIN`` not allowed. Unmatched annotations are *missed*; unmatched detections are *false*; a detection
  that covers two or more annotated cells (each at least ``MERGE_COVER`` inside its box) is *merged*,
  whether or not it matched one of them.
* points (ALL-IDB1 blast centroids): a centroid is matched when it lies inside a detection's contour that no
  other centroid has taken. Contours do not overlap, so the maximum matching is simply one centroid per
  detection hit; the others in the same detection are *merged* (they share a cell), those in no detection
  are *missed*.

The functions take plain boxes, points and ``CellRegion`` lists, so tests can feed them synthetic truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from ..types import CellRegion

IOU_MIN = 0.5
MERGE_COVER = 0.5  # an annotated box at least half inside a detection's box is "covered" by it

Box = tuple[int, int, int, int]  # x0, y0, x1, y1, inclusive pixel coordinates


@dataclass(frozen=True)
class BoxMatch:
    """The one-to-one matching of one image's detections to its annotated boxes."""

    pairs: list[tuple[int, int, float]]  # (detection index, box index, IoU)
    missed: list[int]  # box indices with no detection of their own
    false: list[int]  # detection indices matched to no box
    merged: list[tuple[int, list[int]]] = field(default_factory=list)  # (detection, boxes it covers), >= 2 boxes
    best_iou: list[float] = field(default_factory=list)  # per box, its best IoU with any detection


@dataclass(frozen=True)
class PointMatch:
    """The one-to-one matching of annotated points (centroids) to the detections containing them."""

    owner: list[int]  # per point, the detection index it lies in, or -1
    matched: list[int]  # point indices that have a detection of their own
    merged: list[int]  # point indices inside a detection already taken by another point
    missed: list[int]  # point indices inside no detection


def box_iou(a: Box, b: Box) -> float:
    """IoU of two inclusive boxes (x0, y0, x1, y1)."""
    ix = min(a[2], b[2]) - max(a[0], b[0]) + 1
    iy = min(a[3], b[3]) - max(a[1], b[1]) + 1
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    area = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - inter
    return float(inter / area)


def box_cover(inner: Box, outer: Box) -> float:
    """Fraction of ``inner``'s area that lies inside ``outer``."""
    ix = min(inner[2], outer[2]) - max(inner[0], outer[0]) + 1
    iy = min(inner[3], outer[3]) - max(inner[1], outer[1]) + 1
    if ix <= 0 or iy <= 0:
        return 0.0
    return float(ix * iy / ((inner[2] - inner[0] + 1) * (inner[3] - inner[1] + 1)))


def cell_box(cell: CellRegion) -> Box:
    """A cell's bbox as (x0, y0, x1, y1) inclusive."""
    x, y, w, h = cell.bbox
    return (x, y, x + w - 1, y + h - 1)


def match_boxes(detections: list[Box], truths: list[Box], *, iou_min: float = IOU_MIN) -> BoxMatch:
    """Maximum-IoU one-to-one matching of detection boxes to annotated boxes (see the module docstring)."""
    iou = np.array([[box_iou(d, t) for t in truths] for d in detections], float).reshape(len(detections), len(truths))
    pairs: list[tuple[int, int, float]] = []
    if iou.size:
        # Allowed pairs weigh K + IoU (K above any possible summed IoU), the others 0: the assignment first
        # maximises the number of matched pairs, then their summed IoU (an IoU-only weight could trade two fair
        # pairs for one excellent one).
        big = float(min(iou.shape) + 1)
        weight = np.where(iou >= iou_min, big + iou, 0.0)
        rows, cols = linear_sum_assignment(weight, maximize=True)
        pairs = [(int(r), int(c), float(iou[r, c])) for r, c in zip(rows, cols, strict=True) if iou[r, c] >= iou_min]
    used_d = {p[0] for p in pairs}
    used_t = {p[1] for p in pairs}
    merged = []
    for i, d in enumerate(detections):
        covered = [j for j, t in enumerate(truths) if box_cover(t, d) >= MERGE_COVER]
        if len(covered) >= 2:
            merged.append((i, covered))
    return BoxMatch(
        pairs=sorted(pairs),
        missed=[j for j in range(len(truths)) if j not in used_t],
        false=[i for i in range(len(detections)) if i not in used_d],
        merged=merged,
        best_iou=[float(iou[:, j].max()) if len(detections) else 0.0 for j in range(len(truths))],
    )


def cells_containing(cells: list[CellRegion], points: list[tuple[float, float]]) -> list[int]:
    """For each (x, y) point, the index in ``cells`` of the first cell whose contour contains it, or -1."""
    out = []
    for x, y in points:
        hit = -1
        for k, c in enumerate(cells):
            bx, by, bw, bh = c.bbox
            if not (bx <= x <= bx + bw and by <= y <= by + bh):
                continue
            contour = c.contour.reshape(-1, 1, 2).astype(np.float32)
            if cv2.pointPolygonTest(contour, (float(x), float(y)), False) >= 0:
                hit = k
                break
        out.append(hit)
    return out


def match_points(cells: list[CellRegion], points: list[tuple[float, float]]) -> PointMatch:
    """One detection per annotated point: the first point in a detection takes it, later ones are merged."""
    owner = cells_containing(cells, points)
    taken: set[int] = set()
    matched, merged, missed = [], [], []
    for j, k in enumerate(owner):
        if k < 0:
            missed.append(j)
        elif k in taken:
            merged.append(j)
        else:
            taken.add(k)
            matched.append(j)
    return PointMatch(owner=owner, matched=matched, merged=merged, missed=missed)
