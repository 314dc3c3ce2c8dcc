"""Compare settings of the issue-15 splitting rules on *training* images only (BCCD ``trainval`` and the even
ALL-IDB1 fields): one-to-one BCCD recall/precision and ALL-IDB1 blasts with a detection of their own.

Each variant overrides constants of ``inference.segmentation.cells`` for this process only; ``final`` is the code
as shipped. The BCCD ``test`` split and the odd ALL-IDB1 fields are never read here.

Usage::

    python -m inference.training.seg_variants VARIANT [--threads 1]

Variants: ``final``; ``no_stage3`` (stage 3 off); ``stage3_any`` (stage 3 on every region that does not look like
one cell, no N:C condition); ``stage3_any_r0.4`` / ``stage3_any_r0.45`` (the same with bigger markers);
``stage3_too_big`` (stage 3 only for regions over ``MAX_SINGLE_RBC_AREAS``, no N:C condition); ``no_lobes``
(lobe regrouping off).

Second pass (issue 15; ``final`` is now ``area_hmax+lobes_big_f0.6_s0.96``, ``first_pass`` the code before it, and the
first-pass variants above override the final code): ``area_hmax`` (stage 4: a region >= 75% nucleus and at least ``AREA_SPLIT_MIN_K`` expected
blast areas, 3.0 red-cell areas = the median single-blast detection of the even ALL-IDB1 fields, is split at the
h-maxima of its nucleus distance transform, h = 0.1 red-cell diameters, at most round(area / blast area) seeds);
``area_hmax_h0.05``; ``area_hmax_k1.7`` (candidates from 1.7 blast areas); ``area_topk`` (k = round(area / blast
area) seeds at the k highest distance maxima a blast radius apart); ``area_km`` (as ``area_hmax``, but a candidate
with fewer than two h-maxima is cut into k spatial clusters of its pixels); ``_f0.5`` after an ``area_`` name lowers
the region's nucleus share from 75% to 50%; a trailing ``_shape`` keeps to regions that do not look like one cell; ``lobes_big_f0.6`` / ``lobes_big_f0.75`` (lobe
regrouping also for nuclei up to 0.7 red-cell diameters when the pair is < 60% / 75% nucleus; ``_g0.15``: and the
two nuclei come within 0.15 red-cell diameters of each other; ``_s0.95``: and the pair fills 95% of its convex hull). ``no_big_lobes`` turns that off
(the ``area_*`` rows of the second-pass table ran with it off: ``area_hmax+no_big_lobes`` reproduces them). Variants
join with ``+``. Third pass: ``concave_dD_rR`` (stage 5, ``cells.split_at_concavity``: cuts between two outline notches
at least D red-cell diameters deep whose distance is at most R x their depths together). ``--all`` runs the full one-to-one evaluation (``inference.training.eval_segmentation --methods modified
--skip-idb2``) under the variant instead, which also prints the held-out splits; choose on its trainval / even rows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from ..io import load_image
from ..segmentation import cells as C
from ..segmentation.matching import cell_box, match_boxes, match_points
from ..segmentation.pipeline import find_cells
from .datasets import bccd_images, idb1_smears


def apply_variant(name: str) -> None:
    """Override the splitting constants for ``name`` (see the module docstring); ``a+b`` applies both."""
    if "+" in name:
        for part in name.split("+"):
            apply_variant(part)
        return
    if name.startswith("area_"):
        C.AREA_SPLIT_BLAST_RBC = 3.0
        if name.startswith("area_topk"):
            C.AREA_SPLIT_SEEDS = "topk"
        if "_h" in name[5:]:
            C.AREA_SPLIT_H_RBC = float(name.split("_h")[-1].split("_")[0])
        if "_f" in name[5:]:
            C.AREA_SPLIT_MIN_NUCLEUS_FRACTION = float(name.split("_f")[-1].split("_")[0])
        if name.endswith("_shape"):
            C.AREA_SPLIT_NOT_ONE_CELL = True
        if name.startswith("area_km"):
            C.AREA_SPLIT_FALLBACK = True
        if "_k" in name[5:]:
            C.AREA_SPLIT_MIN_K = float(name.split("_k")[-1].split("_")[0])
        return
    if name == "no_big_lobes":  # big-lobe regrouping off (the second-pass rows before it shipped)
        C.LOBE_MAX_NUCLEUS_FRACTION = 1.0
        return
    if name.startswith("lobes_big_f"):
        C.LOBE_MAX_NUCLEUS_FRACTION = float(name.split("_f")[-1].split("_")[0])
        C.LOBE_MAX_GAP_RBC = float(name.split("_g")[-1].split("_")[0]) if "_g" in name else 0.0
        C.LOBE_BIG_MIN_SOLIDITY = float(name.split("_s")[-1]) if "_s" in name else 0.0
        return
    if name.startswith("concave"):  # stage 5: concave_d0.2_r1.2 (notch depth, cut length / depths; see cells.CONCAVE_*)
        C.CONCAVE_MIN_DEPTH_RBC = float(name.split("_d")[1].split("_")[0]) if "_d" in name else 0.2
        C.CONCAVE_MAX_RATIO = float(name.split("_r")[1].split("_")[0]) if "_r" in name else 1.2
        return
    if name == "final":
        return
    if name == "first_pass":  # the code before the second pass (7b46bb6 .. 5e87a82): no stage 4, no big lobes
        C.AREA_SPLIT_BLAST_RBC = 0.0
        C.LOBE_MAX_NUCLEUS_FRACTION = 1.0
        return
    if name == "no_stage3":
        C.PACKED_MARKER_RBC = 99.0
    elif name == "no_lobes":
        C.LOBE_MAX_RADIUS_RBC = 0.0
    elif name.startswith("stage3_any"):
        C.PACKED_MIN_NUCLEUS_FRACTION = 0.0
        if "_r" in name:
            C.PACKED_MARKER_RBC = float(name.split("_r")[1])
    elif name == "stage3_too_big":
        C.PACKED_MIN_NUCLEUS_FRACTION = 0.0
        shipped = C.looks_like_one_cell
        split = C.split_packed

        def small_enough(region: np.ndarray, rbc_px: float) -> bool:
            return bool(region.sum() <= C.MAX_SINGLE_RBC_AREAS * np.pi * (rbc_px / 2.0) ** 2)

        def split_too_big(labels: np.ndarray, darkness: np.ndarray, nuclei: np.ndarray, rbc_px: float) -> np.ndarray:
            C.looks_like_one_cell = small_enough
            try:
                return split(labels, darkness, nuclei, rbc_px)
            finally:
                C.looks_like_one_cell = shipped

        C.split_packed = split_too_big
    else:
        raise SystemExit(f"unknown variant {name!r}")


def measure() -> dict:
    """One-to-one figures on the training images."""
    test = {im.name for im in bccd_images(split="test")}
    det = matched = boxes = 0
    for im in bccd_images():
        if im.name in test:
            continue
        seg = find_cells(load_image(im.path))
        m = match_boxes([cell_box(c) for c in seg.cells], im.wbc_boxes)
        det, matched, boxes = det + len(seg.cells), matched + len(m.pairs), boxes + len(im.wbc_boxes)
    own = merged = missed = blasts = 0
    for s in idb1_smears():
        if int(s.name[2:].split("_")[0]) % 2:
            continue
        p = match_points(find_cells(load_image(s.path)).cells, s.blasts)
        own, merged, missed = own + len(p.matched), merged + len(p.merged), missed + len(p.missed)
        blasts += len(s.blasts)
    return {
        "bccd_trainval_recall": round(matched / boxes, 4),
        "bccd_trainval_precision": round(matched / det, 4),
        "bccd_trainval_errors": (boxes - matched) + (det - matched),
        "idb1_even_blasts_own": f"{own}/{blasts}",
        "idb1_even_errors": merged + missed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m inference.training.seg_variants", description=__doc__.split("\n")[0]
    )
    parser.add_argument("variant")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--all", type=Path, metavar="JSON", help="full evaluation under the variant, written here")
    args = parser.parse_args(argv)
    if args.threads > 0:
        cv2.setNumThreads(args.threads)
    apply_variant(args.variant)
    if args.all is not None:
        from .eval_segmentation import main as evaluate

        return evaluate(
            ["--methods", "modified", "--skip-idb2", "--threads", str(args.threads), "--json", str(args.all)]
        )
    print(args.variant, measure(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
