"""Set the non-white-cell rejection thresholds (``inference.segmentation.reject``) on training images only.

Every candidate region of the modified segmentation, before rejection, is described by its features and
labelled by the annotations of the *training* images:

* BCCD ``trainval`` (the ``test`` split is never read here): a candidate matched one-to-one to a ``WBC`` box
  (IoU >= 0.5) is a white cell, an unmatched candidate clear of the border is not (BCCD leaves most cells cut
  by the border unannotated, so unmatched border candidates are left out);
* ALL-IDB1 even-numbered fields (the odd ones are held out): a candidate holding a blast centroid is a white
  cell; the others are unlabelled (the annotation marks blasts only) and only reported.

``--fit`` grid-searches the three thresholds of ``is_white_cell`` (see ``fit`` for the objective), with no
training white cell lost beyond ``--max-lost``, and prints the choice; it does not edit the code.

Usage::

    python -m inference.training.seg_features [--fit] [--json var/seg_features.json] [--threads 1]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from ..io import load_image
from ..segmentation.matching import cell_box, cells_containing, match_boxes
from ..segmentation.pipeline import find_candidates
from .datasets import bccd_images, idb1_smears

AREA_GRID = (0.3, 0.4, 0.5, 0.6, 0.7)
NUCLEUS_GRID = (0.22, 0.3, 0.35, 0.4, 0.45, 0.5)
FRACTION_GRID = (0.0, 0.1, 0.15, 0.2, 0.25)


def collect(limit: int | None = None) -> list[dict]:
    """One row per candidate region of the training images: its features, source and label."""
    rows: list[dict] = []
    test = {im.name for im in bccd_images(split="test")}
    for im in [b for b in bccd_images() if b.name not in test][:limit]:
        seg, feats = find_candidates(load_image(im.path))
        m = match_boxes([cell_box(c) for c in seg.cells], im.wbc_boxes)
        matched = {d for d, _, _ in m.pairs}
        for i, (c, f) in enumerate(zip(seg.cells, feats, strict=True)):
            label = "wbc" if i in matched else ("border" if c.touches_border else "non_wbc")
            rows.append({"set": "bccd_trainval", "image": im.name, "label": label, **f.to_json()})
    for s in [s for s in idb1_smears() if int(s.name[2:].split("_")[0]) % 2 == 0][:limit]:
        seg, feats = find_candidates(load_image(s.path))
        hits = set(cells_containing(seg.cells, s.blasts))
        for i, f in enumerate(feats):
            rows.append(
                {"set": "idb1_even", "image": s.name, "label": "wbc" if i in hits else "unlabelled", **f.to_json()}
            )
    return rows


def keeps(row: dict, area: float, nucleus: float, fraction: float) -> bool:
    return row["area_rbc"] >= area and row["nucleus_rbc"] >= nucleus and row["nucleus_fraction"] >= fraction


def fit(rows: list[dict], max_lost: int = 0) -> dict:
    """The thresholds of the grid point that loses at most ``max_lost`` training white cells and keeps the fewest
    non-cells (see the comment on ``key``)."""
    wbc = [r for r in rows if r["label"] == "wbc"]
    non = [r for r in rows if r["label"] == "non_wbc"]
    unl = [r for r in rows if r["label"] == "unlabelled"]
    best = None
    for a, n, c in itertools.product(AREA_GRID, NUCLEUS_GRID, FRACTION_GRID):
        lost = sum(1 for r in wbc if not keeps(r, a, n, c))
        kept_non = sum(1 for r in non if keeps(r, a, n, c))
        kept_unl = sum(1 for r in unl if keeps(r, a, n, c))
        if lost > max_lost:
            continue
        # First the fewest BCCD non-cells kept, then the fewest unlabelled ALL-IDB1 candidates (they include
        # real non-blast white cells, hence only second), then the fewest white cells lost; ties go to the
        # mildest rule (the grid is walked from mild to strict). The grids stop short of the lowest training
        # white cells' values, which leaves the margin.
        key = (-kept_non, -kept_unl, -lost)
        if best is None or key > best[0]:
            best = (
                key,
                {
                    "min_area_rbc": a,
                    "min_nucleus_rbc": n,
                    "min_nucleus_fraction": c,
                    "white_cells_lost": lost,
                    "non_cells_kept": kept_non,
                },
            )
    assert best is not None
    choice = best[1]
    choice["white_cells"] = len(wbc)
    choice["non_cells"] = len(non)
    choice["idb1_unlabelled"] = len(unl)
    choice["idb1_unlabelled_rejected"] = sum(
        1
        for r in unl
        if not keeps(r, choice["min_area_rbc"], choice["min_nucleus_rbc"], choice["min_nucleus_fraction"])
    )
    return choice


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m inference.training.seg_features", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--fit", action="store_true")
    parser.add_argument("--max-lost", type=int, default=0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads > 0:
        cv2.setNumThreads(args.threads)
    rows = collect(args.limit)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=0) + "\n")
    for label in ("wbc", "non_wbc", "border", "unlabelled"):
        sel = [r for r in rows if r["label"] == label]
        if sel:
            q = {
                k: np.percentile([r[k] for r in sel], [1, 5, 50]).round(2).tolist()
                for k in ("area_rbc", "nucleus_rbc", "nucleus_fraction")
            }
            print(f"{label:10s} n={len(sel):4d} p1/p5/p50 {q}")
    if args.fit:
        print(json.dumps(fit(rows, args.max_lost)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
