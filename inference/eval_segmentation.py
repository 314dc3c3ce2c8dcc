"""Measure white-cell detection on BCCD and ALL-IDB1, for the modified and the plain K-means.

* BCCD (364 fields, 640x480): a detected cell matches a VOC ``WBC`` box when their boxes' IoU >= 0.5
  (greedy one-to-one, best IoU first). Recall = matched boxes / boxes, precision = matched detections /
  detections. Every image counts, including those with 0 or 2+ WBC boxes and known annotation slips.
* ALL-IDB2 (259 crops after dropping ``Im257_0``): with ``single_cell=True``, the fraction of crops whose
  returned cell contains the crop's centre (the annotated cell is centred by construction).
* ALL-IDB1 (107 fields after dropping the duplicate ``Im108_0``): blast recall = fraction of the annotated
  blast centroids that fall inside a detected cell's contour; the same for the non-blast centroids of
  ALL-IDB Patches (``other_AngeloUNIMI_GPL3``). A precision *proxy*: the fraction of detected cells that
  contain at least one annotated centroid of either kind (the annotations are not exhaustive, so this
  understates true precision). ``shared`` counts centroids that share a detected cell with another centroid
  (under-split clusters).

Usage::

    python -m inference.eval_segmentation [--methods modified kmeans] [--json docs/results/segmentation.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from .datasets import BccdImage, Idb1Smear, Idb2Crop, bccd_images, idb1_smears, idb2_crops
from .io import load_image
from .segmentation.colour import NUCLEUS_HUE_DEG, hsv_float, hue_distance_deg
from .segmentation.pipeline import METHODS, find_cells
from .types import CellRegion, Segmentation

IOU_MIN = 0.5


def box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """IoU of two boxes given as (x0, y0, x1, y1), inclusive pixel coordinates."""
    ix = min(a[2], b[2]) - max(a[0], b[0]) + 1
    iy = min(a[3], b[3]) - max(a[1], b[1]) + 1
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    area = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - inter
    return float(inter / area)


def cell_box(cell: CellRegion) -> tuple[int, int, int, int]:
    """A cell's bbox as (x0, y0, x1, y1) inclusive."""
    x, y, w, h = cell.bbox
    return (x, y, x + w - 1, y + h - 1)


def match_boxes(cells: list[CellRegion], boxes: list[tuple[int, int, int, int]]) -> int:
    """Number of one-to-one matches at IoU >= 0.5, greedily by best IoU."""
    pairs = sorted(
        ((box_iou(cell_box(c), b), i, j) for i, c in enumerate(cells) for j, b in enumerate(boxes)), reverse=True
    )
    used_c, used_b, matched = set(), set(), 0
    for iou, i, j in pairs:
        if iou < IOU_MIN:
            break
        if i in used_c or j in used_b:
            continue
        used_c.add(i)
        used_b.add(j)
        matched += 1
    return matched


def cells_containing(cells: list[CellRegion], points: list[tuple[float, float]]) -> list[int]:
    """For each point, the id of the first cell whose contour contains it, or -1."""
    out = []
    for x, y in points:
        hit = -1
        for c in cells:
            bx, by, bw, bh = c.bbox
            if not (bx <= x <= bx + bw and by <= y <= by + bh):
                continue
            if cv2.pointPolygonTest(c.contour.reshape(-1, 1, 2).astype(np.float32), (float(x), float(y)), False) >= 0:
                hit = c.id
                break
        out.append(hit)
    return out


def eval_bccd(images: list[BccdImage], method: str) -> dict:
    """Recall and precision of WBC detection at IoU >= 0.5 over the given BCCD images."""
    n_boxes = n_det = n_match = n_inner = n_inner_match = 0
    per_image = []
    for im in images:
        seg = find_cells(load_image(im.path), method=method)
        m = match_boxes(seg.cells, im.wbc_boxes)
        n_boxes += len(im.wbc_boxes)
        n_det += len(seg.cells)
        n_match += m
        inner = [c for c in seg.cells if not c.touches_border]
        n_inner += len(inner)
        n_inner_match += match_boxes(inner, im.wbc_boxes)
        per_image.append({"image": im.name, "boxes": len(im.wbc_boxes), "detected": len(seg.cells), "matched": m})
    return {
        "images": len(images),
        "wbc_boxes": n_boxes,
        "detections": n_det,
        "matched": n_match,
        "recall": n_match / n_boxes if n_boxes else None,
        "precision": n_match / n_det if n_det else None,
        # Secondary, not the headline: BCCD leaves many white cells cut by the image edge unannotated.
        "detections_not_touching_border": n_inner,
        "precision_not_touching_border": n_inner_match / n_inner if n_inner else None,
        "images_missed": [p["image"] for p in per_image if p["matched"] < p["boxes"]],
        "images_with_extra": [p["image"] for p in per_image if p["detected"] > p["matched"]],
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


def _idb1_one(smear: Idb1Smear, rgb: np.ndarray, seg: Segmentation) -> dict:
    blast_hits = cells_containing(seg.cells, smear.blasts)
    other_hits = cells_containing(seg.cells, smear.others)
    hits = [h for h in blast_hits + other_hits if h >= 0]
    ids, counts = np.unique(hits, return_counts=True) if hits else (np.array([]), np.array([]))
    blast_ids = [h for h in blast_hits if h >= 0]
    blast_stained = on_stained_nucleus(rgb, smear.blasts, seg.rbc_diameter_px)
    other_stained = on_stained_nucleus(rgb, smear.others, seg.rbc_diameter_px)
    alone = sum(1 for h in blast_ids if blast_ids.count(h) == 1)
    return {
        "image": smear.name,
        "size": [seg.width, seg.height],
        "rbc_diameter_px": round(seg.rbc_diameter_px, 1),
        "cells": len(seg.cells),
        "blasts": len(smear.blasts),
        "blasts_found": int(sum(h >= 0 for h in blast_hits)),
        "blasts_alone": alone,
        "blasts_stained": int(sum(blast_stained)),
        "others_stained": int(sum(other_stained)),
        "others_stained_found": int(sum(1 for h, st in zip(other_hits, other_stained, strict=True) if st and h >= 0)),
        "others": len(smear.others),
        "others_found": int(sum(h >= 0 for h in other_hits)),
        "cells_with_centroid": int(len(ids)),
        "shared": int(counts[counts > 1].sum()) if len(counts) else 0,
        "flags": list(seg.quality.flags),
    }


def eval_idb1(smears: list[Idb1Smear], method: str) -> dict:
    """Centroid recall (blasts, non-blasts) and the precision proxy on ALL-IDB1."""
    rows = []
    for s in smears:
        rgb = load_image(s.path)
        rows.append(_idb1_one(s, rgb, find_cells(rgb, method=method)))

    def total(key: str) -> int:
        return int(sum(r[key] for r in rows))

    cells = total("cells")
    return {
        "images": len(rows),
        "blast_centroids": total("blasts"),
        "blast_recall": total("blasts_found") / max(1, total("blasts")),
        "blast_recall_alone_in_cell": total("blasts_alone") / max(1, total("blasts")),
        "blast_centroids_on_stained_nucleus": total("blasts_stained") / max(1, total("blasts")),
        "other_centroids": total("others"),
        "other_centroids_on_stained_nucleus": total("others_stained") / max(1, total("others")),
        "other_recall_on_stained_nucleus": total("others_stained_found") / max(1, total("others_stained")),
        "other_recall": total("others_found") / max(1, total("others")),
        "cells_detected": cells,
        "cells_per_image_median": float(np.median([r["cells"] for r in rows])),
        "precision_proxy_cells_with_any_centroid": total("cells_with_centroid") / cells if cells else None,
        "centroids_sharing_a_cell": total("shared"),
        "images_with_missed_blasts": [r["image"] for r in rows if r["blasts_found"] < r["blasts"]],
        "per_image": rows,
    }


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


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation and print (and optionally save) the JSON."""
    parser = argparse.ArgumentParser(prog="python -m inference.eval_segmentation", description=__doc__.split("\n")[0])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--limit", type=int, default=None, help="first N images of each set (for a quick look)")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    bccd = bccd_images()[: args.limit]
    idb1 = idb1_smears()[: args.limit]
    idb2 = idb2_crops()[: args.limit]
    started = time.time()
    results: dict = {
        "command": "python -m inference.eval_segmentation " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()} {os.cpu_count()}-core CPU, {platform.python_implementation()} "
        f"{platform.python_version()}, OpenCV {cv2.__version__}",
        "methods": {},
    }
    for method in args.methods:
        results["methods"][method] = {
            "bccd": eval_bccd(bccd, method),
            "idb1": eval_idb1(idb1, method),
            "idb2_single_cell": eval_idb2(idb2, method),
        }
        print(f"[{method}] done after {time.time() - started:.0f} s", file=sys.stderr, flush=True)
    results["wall_seconds"] = round(time.time() - started, 1)
    if args.json:
        update_json(args.json, "evaluation", results)
    for method, r in results["methods"].items():
        b, i = r["bccd"], r["idb1"]
        print(
            f"{method:9s} BCCD recall {b['recall']:.3f} precision {b['precision']:.3f} | IDB1 blast recall "
            f"{i['blast_recall']:.3f} other recall {i['other_recall']:.3f} cells/img {i['cells_per_image_median']:.0f}"
            f" proxy-precision {i['precision_proxy_cells_with_any_centroid'] or 0:.3f} shared {i['centroids_sharing_a_cell']}"
            f" blast-alone {i['blast_recall_alone_in_cell']:.3f} stained blasts/others "
            f"{i['blast_centroids_on_stained_nucleus']:.2f}/{i['other_centroids_on_stained_nucleus']:.2f}"
            f" other-recall-on-stained {i['other_recall_on_stained_nucleus']:.3f}"
            f" | BCCD precision w/o border {b['precision_not_touching_border']:.3f}"
            f" | IDB2 centre cell {r['idb2_single_cell']['fraction_centre_cell_isolated']:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
