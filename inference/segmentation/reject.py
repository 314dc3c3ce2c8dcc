"""Reject what is not a white cell: platelets, platelet clumps, stain precipitate, nucleated debris.

After clustering and splitting, every candidate region is described by a few features measured relative to
the field itself, so the rule holds at any magnification and stain strength:

* ``area_rbc``: the region's area in red-cell areas (the red-cell diameter comes from ``scale``);
* ``nucleus_rbc``: its nucleus-cluster area in red-cell areas;
* ``nucleus_fraction``: nucleus area / region area. Platelet clumps, smudged (lysed) cells and red-cell
  overlaps are mostly pale, granular or pink material with a little nucleus-coloured stain; every white cell
  of the training images has a nucleus covering more than a quarter of it.

``is_white_cell`` applies the thresholds below. They were set on training images only (BCCD ``trainval``
and the even ALL-IDB1 fields) with ``python -m inference.training.seg_features --fit``; see
``docs/results/segmentation.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Set on BCCD trainval + ALL-IDB1 even fields (``python -m inference.training.seg_features --fit``).
MIN_AREA_RBC = 0.3  # a whole white cell is at least this many red-cell areas (a small lymphocyte ~0.5)
MIN_NUCLEUS_RBC = 0.3  # nucleus pixels, in red-cell areas (platelets ~0.1, clumps of a few ~0.2-0.3)
MIN_NUCLEUS_FRACTION = 0.25  # nucleus share of the region


@dataclass(frozen=True)
class RegionFeatures:
    """What ``is_white_cell`` looks at, for one candidate region."""

    area_rbc: float
    nucleus_rbc: float
    nucleus_fraction: float

    def to_json(self) -> dict:
        return {k: round(float(v), 4) for k, v in self.__dict__.items()}


def region_features(labels: np.ndarray, nucleus: np.ndarray, rbc_px: float) -> dict[int, RegionFeatures]:
    """Features of every labelled region (label -> features), at working resolution."""
    n = int(labels.max())
    if n == 0:
        return {}
    rbc_area = np.pi * (rbc_px / 2.0) ** 2
    flat = labels.ravel()
    area = np.bincount(flat, minlength=n + 1)
    nuc_area = np.bincount(flat[nucleus.ravel()], minlength=n + 1)
    return {
        i: RegionFeatures(area[i] / rbc_area, nuc_area[i] / rbc_area, nuc_area[i] / area[i])
        for i in range(1, n + 1)
        if area[i] > 0
    }


def is_white_cell(f: RegionFeatures) -> bool:
    """The rejection rule: big enough for a white cell, with enough nucleus, and mostly nucleus-bearing."""
    return (
        f.area_rbc >= MIN_AREA_RBC and f.nucleus_rbc >= MIN_NUCLEUS_RBC and f.nucleus_fraction >= MIN_NUCLEUS_FRACTION
    )
