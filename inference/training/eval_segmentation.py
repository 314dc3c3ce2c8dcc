"""Measure white-cell detection one-to-one on BCCD and ALL-IDB1, for the modified and the plain K-means.

Every figure counts each annotated cell against at most one detection and each detection against at most
one annotated cell (``inference.segmentation.matching``), because a count is only as good as "one cell, one
detection":

* BCCD (364 fields, 640x480; its ``test`` split of 72 fields reported apart from ``trainval``, on which the
  segmentation's thresholds were set): maximum one-to-one matching of detected cells' boxes to the VOC ``WBC``
  boxes at IoU >= 0.5. Recall = matched boxes / boxes, precision = matched detections / detections; *merged*
  = detections covering two or more boxes. Precision is given with every detection and without the
  detections marked ``touches_border`` (which the summary leaves out of counts; BCCD does not annotate most
  cells cut by the edge), recall also for boxes clear of the border.
* ALL-IDB1 (107 fields after dropping the duplicate ``Im108_0``): one-to-one blast recall = blast centroids
  that have a detection of their own (a detection containing two centroids serves one; the other is
  *merged*). Fields are also reported split in two halves: even image numbers (used while developing the
  splitting rules) and odd ones (not looked at). Precision cannot be measured there (the annotations are not
  exhaustive); a proxy is kept. The non-blast centroids of ALL-IDB Patches are mostly not white cells (see
  ``docs/results/segmentation.md``) and are reported, not scored.
* ALL-IDB2 (259 crops): with ``single_cell=True``, the fraction of crops whose returned cell contains the
  crop's centre.

``--gallery DIR`` writes ``missed.png``, ``merged.png`` and ``false.png``: the 20 worst errors of each kind
as small crops (``inference.segmentation.gallery``).

Usage::

    python -m inference.eval_segmentation [--methods modified kmeans] [--json docs/results/segmentation.json]
        [--gallery docs/results/segmentation_errors]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..io import load_image
from ..segmentation.colour import NUCLEUS_HUE_DEG, hsv_float, hue_distance_deg
from ..segmentation.gallery import ErrorTile, error_tile, tile_grid
from ..segmentation.matching import box_iou, cell_box, cells_containing, match_boxes, match_points
from ..segmentation.pipeline import METHODS, find_cells
from ..types import CellRegion, Segmentation
from .datasets import BccdImage, Idb1Smear, Idb2Crop, bccd_images, idb1_smears, idb2_crops

GALLERY_SIZE = 20
BORDER_MARGIN_PX = 3  # an annotated box this close to the edge is a cell cut by the border


@dataclass(frozen=True)
class Error:
    """One segmentation error, kept for the gallery: the worst have the highest ``badness``."""

    kind: str  # "missed" | "merged" | "false"
    badness: float
    path: Path
    tile: ErrorTile
    rbc_diameter_px: float


def _box_on_border(box: tuple[int, int, int, int], width: int, height: int) -> bool:
    return (
        box[0] < BORDER_MARGIN_PX
        or box[1] < BORDER_MARGIN_PX
        or box[2] >= width - BORDER_MARGIN_PX
        or (box[3] >= height - BORDER_MARGIN_PX)
    )


def bccd_one(im: BccdImage, seg: Segmentation, errors: list[Error], split: str) -> dict:
    """Score one BCCD field; append its errors."""
    cells = seg.cells
    m = match_boxes([cell_box(c) for c in cells], im.wbc_boxes)
    matched_d = {d for d, _, _ in m.pairs}
    matched_t = {t for _, t, _ in m.pairs}
    border_t = [_box_on_border(b, seg.width, seg.height) for b in im.wbc_boxes]
    label = f"{split} {im.name.removeprefix('BloodImage_')}"
    for j in m.missed:
        b = im.wbc_boxes[j]
        tile = ErrorTile(
            f"{label} iou{m.best_iou[j]:.2f}",
            ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2),
            im.wbc_boxes,
            good=[c for i, c in enumerate(cells) if i in matched_d],
            bad=[c for i, c in enumerate(cells) if i not in matched_d],
        )
        errors.append(Error("missed", 1.0 - m.best_iou[j], im.path, tile, seg.rbc_diameter_px))
    for i in m.false:
        c = cells[i]
        # Interior false detections first (they would be counted); then the ones furthest from any truth.
        near = max((m_iou for m_iou in _ious(c, im.wbc_boxes)), default=0.0)
        tag = "border" if c.touches_border else "inner"
        tile = ErrorTile(f"{label} {tag}", c.centroid, im.wbc_boxes, good=[], bad=[c])
        errors.append(
            Error("false", (0.0 if c.touches_border else 2.0) + 1.0 - near, im.path, tile, seg.rbc_diameter_px)
        )
    for i, covered in m.merged:
        c = cells[i]
        tile = ErrorTile(f"{label} x{len(covered)}", c.centroid, im.wbc_boxes, bad=[c])
        errors.append(Error("merged", float(len(covered)), im.path, tile, seg.rbc_diameter_px))
    inner_d = [i for i, c in enumerate(cells) if not c.touches_border]
    inner_t = [j for j, on in enumerate(border_t) if not on]
    return {
        "image": im.name,
        "boxes": len(im.wbc_boxes),
        "detections": len(cells),
        "matched": len(m.pairs),
        "detections_inner": len(inner_d),
        "matched_inner_detections": sum(1 for i in inner_d if i in matched_d),
        "boxes_inner": len(inner_t),
        "matched_inner_boxes": sum(1 for j in inner_t if j in matched_t),
        "merged_detections": len(m.merged),
        "boxes_in_merged": sum(len(cov) for _, cov in m.merged),
    }


def _ious(cell: CellRegion, boxes: list[tuple[int, int, int, int]]) -> list[float]:
    return [box_iou(cell_box(cell), b) for b in boxes]


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def bccd_totals(rows: list[dict]) -> dict:
    """One-to-one recall, precision (with and without border detections) and merges over some fields."""

    def total(key: str) -> int:
        return int(sum(r[key] for r in rows))

    per_field = [r["detections"] for r in rows]
    return {
        "images": len(rows),
        "wbc_boxes": total("boxes"),
        "detections": total("detections"),
        "matched": total("matched"),
        "recall": _ratio(total("matched"), total("boxes")),
        "precision": _ratio(total("matched"), total("detections")),
        "precision_without_border_detections": _ratio(total("matched_inner_detections"), total("detections_inner")),
        "detections_without_border": total("detections_inner"),
        "recall_boxes_clear_of_border": _ratio(total("matched_inner_boxes"), total("boxes_inner")),
        "boxes_clear_of_border": total("boxes_inner"),
        "merged_detections": total("merged_detections"),
        "boxes_in_merged_detections": total("boxes_in_merged"),
        "cells_per_field_median": float(np.median(per_field)) if per_field else None,
        "boxes_per_field_median": float(np.median([r["boxes"] for r in rows])) if rows else None,
        "images_with_errors": [r["image"] for r in rows if r["matched"] < max(r["boxes"], r["detections"])],
    }


def eval_bccd(method: str, limit: int | None, errors: list[Error]) -> dict:
    """BCCD one-to-one figures for the test split, trainval and all fields."""
    test = {im.name for im in bccd_images(split="test")}
    rows: dict[str, list[dict]] = {"test": [], "trainval": []}
    for im in bccd_images()[:limit]:
        split = "test" if im.name in test else "trainval"
        rows[split].append(bccd_one(im, find_cells(load_image(im.path), method=method), errors, split))
    return {
        "test": bccd_totals(rows["test"]),
        "trainval": bccd_totals(rows["trainval"]),
        "all": bccd_totals(rows["test"] + rows["trainval"]),
    }


def idb1_one(smear: Idb1Smear, rgb: np.ndarray, seg: Segmentation, errors: list[Error]) -> dict:
    """Score one ALL-IDB1 field; append its missed and merged blasts."""
    cells = seg.cells
    m = match_points(cells, smear.blasts)
    label = f"IDB1 {smear.name}"
    for j in m.missed:
        tile = ErrorTile(label, smear.blasts[j], truth_points=smear.blasts, good=cells)
        errors.append(Error("missed", 1.0, smear.path, tile, seg.rbc_diameter_px))
    shared: dict[int, int] = {}
    for k in m.owner:
        if k >= 0:
            shared[k] = shared.get(k, 0) + 1
    for k, n in shared.items():
        if n >= 2:
            tile = ErrorTile(f"{label} x{n}", cells[k].centroid, truth_points=smear.blasts, bad=[cells[k]])
            errors.append(Error("merged", float(n), smear.path, tile, seg.rbc_diameter_px))
    other_hits = cells_containing(cells, smear.others)
    with_centroid = {k for k in m.owner + other_hits if k >= 0}
    blast_stained = on_stained_nucleus(rgb, smear.blasts, seg.rbc_diameter_px)
    other_stained = on_stained_nucleus(rgb, smear.others, seg.rbc_diameter_px)
    return {
        "image": smear.name,
        "label": smear.label,
        "size": [seg.width, seg.height],
        "rbc_diameter_px": round(seg.rbc_diameter_px, 1),
        "cells": len(cells),
        "cells_not_touching_border": sum(1 for c in cells if not c.touches_border),
        "blasts": len(smear.blasts),
        "blasts_own_detection": len(m.matched),
        "blasts_merged": len(m.merged),
        "blasts_missed": len(m.missed),
        "blasts_stained": int(sum(blast_stained)),
        "others": len(smear.others),
        "others_stained": int(sum(other_stained)),
        "others_stained_found": int(sum(1 for h, st in zip(other_hits, other_stained, strict=True) if st and h >= 0)),
        "cells_with_centroid": len(with_centroid),
        "flags": list(seg.quality.flags),
    }


def idb1_totals(rows: list[dict]) -> dict:
    """One-to-one blast recall and cells per field over some ALL-IDB1 fields."""

    def total(key: str) -> int:
        return int(sum(r[key] for r in rows))

    def median(key: str, label: int | None = None) -> float | None:
        values = [r[key] for r in rows if label is None or r["label"] == label]
        return float(np.median(values)) if values else None

    return {
        "images": len(rows),
        "blast_centroids": total("blasts"),
        "blast_recall_one_to_one": _ratio(total("blasts_own_detection"), total("blasts")),
        "blasts_merged": total("blasts_merged"),
        "blasts_missed": total("blasts_missed"),
        "cells_detected": total("cells"),
        "cells_per_field_median": median("cells"),
        "cells_per_field_median_all_patients": median("cells", 1),
        "cells_per_field_median_healthy": median("cells", 0),
        "cells_not_touching_border_per_field_median": median("cells_not_touching_border"),
        "precision_proxy_cells_with_any_centroid": _ratio(total("cells_with_centroid"), total("cells")),
        "images_with_lost_blasts": [r["image"] for r in rows if r["blasts_own_detection"] < r["blasts"]],
    }


def _image_number(name: str) -> int:
    return int(name[2:].split("_")[0])


def eval_idb1(method: str, limit: int | None, errors: list[Error]) -> dict:
    """ALL-IDB1 one-to-one blast recall, for all fields and for the even (developed on) and odd halves."""
    rows = []
    for s in idb1_smears()[:limit]:
        rgb = load_image(s.path)
        rows.append(idb1_one(s, rgb, find_cells(rgb, method=method), errors))
    everything = idb1_totals(rows)
    stained = sum(r["blasts_stained"] for r in rows)
    others_stained = sum(r["others_stained"] for r in rows)
    everything.update(
        {
            "blast_centroids_on_stained_nucleus": _ratio(stained, everything["blast_centroids"]),
            "other_centroids": sum(r["others"] for r in rows),
            "other_centroids_on_stained_nucleus": _ratio(others_stained, sum(r["others"] for r in rows)),
            "other_recall_on_stained_nucleus": _ratio(sum(r["others_stained_found"] for r in rows), others_stained),
        }
    )
    return {
        "all": everything,
        "even_fields_developed_on": idb1_totals([r for r in rows if _image_number(r["image"]) % 2 == 0]),
        "odd_fields_held_out": idb1_totals([r for r in rows if _image_number(r["image"]) % 2 == 1]),
        "per_image": rows,
    }


def on_stained_nucleus(rgb: np.ndarray, points: list[tuple[float, float]], rbc_diameter_px: float) -> list[bool]:
    """For each point: does it sit on stained nuclear material? True when the median pixel of a window
    0.3 red-cell diameters wide is blue-violet (hue within 60 degrees of 265) and saturated (S >= 0.25).
    Used to check what an annotation set marks, independently of the segmentation."""
    half = max(1, int(0.15 * rbc_diameter_px))
    out = []
    for x, y in points:
        xi, yi = int(round(x)), int(round(y))
        win = rgb[max(0, yi - half) : yi + half + 1, max(0, xi - half) : xi + half + 1]
        if win.size == 0:
            out.append(False)
            continue
        hsv = hsv_float(win).reshape(-1, 3)
        hue, sat = np.median(hsv[:, 0]), np.median(hsv[:, 1])
        out.append(bool(hue_distance_deg(float(hue), NUCLEUS_HUE_DEG) <= 60 and sat >= 0.25))
    return out


def eval_idb2(crops: list[Idb2Crop], method: str) -> dict:
    """Single-cell mode on ALL-IDB2 crops: is the returned cell the one at the crop's centre?"""
    found = centred = 0
    areas = []
    failures = []
    for crop in crops:
        rgb = load_image(crop.path)
        seg = find_cells(rgb, method=method, single_cell=True)
        h, w = rgb.shape[:2]
        if not seg.cells:
            failures.append(crop.path.stem)
            continue
        found += 1
        cell = seg.cells[0]
        inside = cells_containing([cell], [(w / 2.0, h / 2.0)])[0] >= 0
        centred += int(inside)
        if not inside:
            failures.append(crop.path.stem)
        areas.append(cell.area_px / (w * h))
    return {
        "crops": len(crops),
        "with_a_cell": found,
        "cell_contains_crop_centre": centred,
        "fraction_centre_cell_isolated": centred / max(1, len(crops)),
        "median_cell_area_fraction_of_crop": float(np.median(areas)) if areas else None,
        "failures": failures,
    }


def update_json(path: Path, key: str, value: dict) -> None:
    """Write ``value`` under ``key`` of the JSON object in ``path``, keeping the other keys (the evaluation
    and the speed benchmark share ``docs/results/segmentation.json``)."""
    data = {}
    if path.exists():
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError:
            data = {}
    if not isinstance(data, dict) or "evaluation" not in data and "speed" not in data:
        data = {}  # an older flat file: start afresh rather than mix layouts
    data[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")


def write_gallery(errors: list[Error], out_dir: Path) -> dict[str, int]:
    """The ``GALLERY_SIZE`` worst errors of each kind as one PNG per kind; returns how many errors there were."""
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {}
    images: dict[Path, np.ndarray] = {}
    for kind in ("missed", "merged", "false"):
        chosen = sorted((e for e in errors if e.kind == kind), key=lambda e: (-e.badness, str(e.path)))
        counts[kind] = len(chosen)
        tiles = []
        for e in chosen[:GALLERY_SIZE]:
            if e.path not in images:
                images[e.path] = load_image(e.path)
            tiles.append(error_tile(images[e.path], e.tile, rbc_diameter_px=e.rbc_diameter_px))
        title = f"{kind}: {min(len(chosen), GALLERY_SIZE)} worst of {len(chosen)} (blue truth, green ok, red error)"
        grid = tile_grid(tiles, title=title)
        # A 64-colour palette keeps each PNG small enough to commit; the crops stay readable.
        quantised = _quantise(grid)
        cv2.imwrite(str(out_dir / f"{kind}.png"), quantised, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return counts


def _quantise(rgb: np.ndarray, colours: int = 64) -> np.ndarray:
    """BGR image with at most ``colours`` colours (K-means palette), for a small PNG."""
    flat = rgb.reshape(-1, 3).astype(np.float32)
    cv2.setRNGSeed(0)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
    # OpenCV's stubs omit None for bestLabels, which its binding takes (no initial labels with KMEANS_PP_CENTERS).
    _, labels, centres = cv2.kmeans(flat, colours, None, criteria, 1, cv2.KMEANS_PP_CENTERS)  # type: ignore[call-overload]
    out = centres.astype(np.uint8)[labels.ravel()].reshape(rgb.shape)
    return cv2.cvtColor(out, cv2.COLOR_RGB2BGR)


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation and print (and optionally save) the JSON."""
    parser = argparse.ArgumentParser(prog="python -m inference.eval_segmentation", description=__doc__.split("\n")[0])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--limit", type=int, default=None, help="first N images of each set (for a quick look)")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--gallery", type=Path, help="write the worst errors of the first method here as PNGs")
    parser.add_argument("--skip-idb2", action="store_true", help="leave out the ALL-IDB2 single-cell check")
    parser.add_argument("--threads", type=int, default=0, help="OpenCV threads (0: OpenCV's default)")
    args = parser.parse_args(argv)
    if args.threads > 0:
        cv2.setNumThreads(args.threads)
    started = time.time()
    results: dict = {
        "command": "python -m inference.eval_segmentation " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()} {os.cpu_count()}-core CPU, {platform.python_implementation()} "
        f"{platform.python_version()}, OpenCV {cv2.__version__}",
        "methods": {},
    }
    for n, method in enumerate(args.methods):
        errors: list[Error] = []
        row = {"bccd": eval_bccd(method, args.limit, errors), "idb1": eval_idb1(method, args.limit, errors)}
        if not args.skip_idb2:
            row["idb2_single_cell"] = eval_idb2(idb2_crops()[: args.limit], method)
        if args.gallery is not None and n == 0:
            row["gallery"] = {"dir": str(args.gallery), "errors": write_gallery(errors, args.gallery)}
        results["methods"][method] = row
        print(f"[{method}] done after {time.time() - started:.0f} s", file=sys.stderr, flush=True)
    results["wall_seconds"] = round(time.time() - started, 1)
    if args.json:
        update_json(args.json, "evaluation", results)
    for method, r in results["methods"].items():
        for split in ("test", "trainval", "all"):
            b = r["bccd"][split]
            print(
                f"{method:9s} BCCD {split:8s} recall {b['recall']} precision {b['precision']} "
                f"(without border detections {b['precision_without_border_detections']}) merged {b['merged_detections']}"
            )
        for part in ("all", "even_fields_developed_on", "odd_fields_held_out"):
            i = r["idb1"][part]
            print(
                f"{method:9s} IDB1 {part:24s} blast recall one-to-one {i['blast_recall_one_to_one']} "
                f"merged {i['blasts_merged']} missed {i['blasts_missed']} cells/field {i['cells_per_field_median']}"
            )
        if "idb2_single_cell" in r:
            print(f"{method:9s} IDB2 centre cell {r['idb2_single_cell']['fraction_centre_cell_isolated']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
