"""Single-cell images: how framing and the source of the stain statistics change the call.

``python -m inference.training.eval_framing [--model CKPT] [--limit N] --out var/results/framing.json``

Another lab's analyser sends one white cell per image, framed its own way. ``Predictor.predict_cells`` re-cuts
each image around its centre cell at the training framing, then Reinhard-normalises it with LAB statistics.
Training measured those statistics on whole smears, where white cells are a few percent of the pixels; in a
single-cell image the cell fills much of the frame, so its statistics describe the cell more than the smear's
stain. This measures the size of that mismatch and what it does to the call, with three sources:

* ``image``: the statistics of the cell image itself (what ``predict_cells`` does);
* ``field``: the statistics of the whole field the cell was cut from (what training used: an oracle a lab
  sending single cells does not have);
* ``background``: the cell image's statistics with its white cells (dilated by a tenth of a red cell) left out.

Cells: every white cell found and not cut by the border on ALL-IDB1's smears (blast: holds a blast centroid;
normal: on a healthy smear, or holds only an ``other`` centroid), and the annotated white cells of BCCD's test
fields (all normal), each cut as a square of ``eval_bccd.MARGINS`` times its box. The shipped model trained on
every ALL-IDB1 smear and BCCD's trainval fields: its ALL-IDB1 figures are *not* held out. They compare the
three sources on the same cells; BCCD test is unseen. A model saved by ``crossval cross-acq`` records the
acquisition it held out, and its ALL-IDB1 rows then hold only that acquisition's smears, which it never saw.
Figures at the checkpoint's operating point. The statistics follow the checkpoint's stain statistic (moments
or median).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from ..io import load_image
from ..predict import Predictor
from ..segment import find_cells, reframe_cell
from ..stain import lab_stats, pixel_stats, statistic_of
from .data import _inside
from .datasets import acquisition_of, bccd_images, idb1_smears
from .eval_bccd import MARGINS, box_crop
from .metrics import binary_metrics

SOURCES = ("image", "field", "background")
EXCLUDE_GROW_RBC = 0.1  # the white cells' masks grow by this many red-cell diameters before they are left out


def background_stats(rgb: np.ndarray, contours: list[np.ndarray], rbc_diameter_px: float) -> dict:
    """LAB mean, std and median of ``rgb`` outside the given cell contours (each dilated); the whole image's when
    that would leave fewer than a tenth of its pixels."""
    mask = np.zeros(rgb.shape[:2], np.uint8)
    for c in contours:
        cv2.drawContours(mask, [c.reshape(-1, 1, 2)], -1, 1, -1)
    k = max(1, int(round(EXCLUDE_GROW_RBC * rbc_diameter_px)))
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
    keep = mask.ravel() == 0
    if keep.mean() < 0.1:
        return lab_stats(rgb)
    return pixel_stats(cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).reshape(-1, 3)[keep])


def _box(contour: np.ndarray) -> tuple[int, int, int, int]:
    x, y, w, h = cv2.boundingRect(contour.reshape(-1, 1, 2))
    return x, y, x + w, y + h


def _cells(limit: int, acquisition: str | None = None) -> list[tuple[str, int, np.ndarray, tuple[int, int, int, int]]]:
    """(dataset, label, field, box) of every cell measured: ALL-IDB1 segmented cells (only the smears of one
    ``acquisition``, "WxH", when given), BCCD test boxes."""
    out = []
    for sm in idb1_smears()[: limit or None]:
        rgb = load_image(sm.path)
        if acquisition and acquisition_of(rgb.shape) != acquisition:
            continue
        for r in find_cells(rgb).cells:
            if r.touches_border:
                continue
            n_blast, n_other = _inside(r.contour, sm.blasts), _inside(r.contour, sm.others)
            label = 1 if n_blast and not n_other else 0 if sm.label == 0 or (n_other and not n_blast) else -1
            if label >= 0:
                out.append(("ALL-IDB1", label, rgb, _box(r.contour)))
    for im in bccd_images(split="test")[: limit or None]:
        rgb = load_image(im.path)
        out += [("BCCD test", 0, rgb, tuple(b)) for b in im.wbc_boxes]
    return out


def _stats_error(stats: list[dict], field: list[dict]) -> dict:
    """Mean absolute difference from the field's statistics: LAB means, log ratios of the stds, LAB medians."""
    mean = np.array([np.subtract(s["mean"], f["mean"]) for s, f in zip(stats, field, strict=True)])
    std = np.array([np.log(np.divide(s["std"], f["std"])) for s, f in zip(stats, field, strict=True)])
    median = np.array([np.subtract(s["median"], f["median"]) for s, f in zip(stats, field, strict=True)])
    return {
        "mean_abs_L_a_b": [round(float(v), 2) for v in np.abs(mean).mean(0)],
        "mean_abs_log_std_ratio_L_a_b": [round(float(v), 3) for v in np.abs(std).mean(0)],
        "median_abs_L_a_b": [round(float(v), 2) for v in np.abs(median).mean(0)],  # what a median model matches
    }


def run(model: str | None, limit: int = 0) -> dict:
    predictor = Predictor.load(model)
    size = int(predictor.preprocessing.input_size)
    cut = predictor.operating_point.cell_threshold
    held_out = predictor.checkpoint.extra.get("held_out")  # a cross-acq model: only its unseen smears count
    cells = _cells(limit, held_out)
    field_stats = {id(rgb): lab_stats(rgb) for _, _, rgb, _ in cells}
    rows = []
    for name, margin in MARGINS.items():
        crops, stats, labels, sets = [], {s: [] for s in SOURCES}, [], []
        for dataset, label, rgb, box in cells:
            image = np.ascontiguousarray(box_crop(rgb, box, margin))
            crop, seg = reframe_cell(image, out_size=size)
            crops.append(crop)
            stats["image"].append(lab_stats(image))
            stats["field"].append(field_stats[id(rgb)])
            contours = [c.contour for c in seg.cells]
            stats["background"].append(background_stats(image, contours, seg.rbc_diameter_px))
            labels.append(label)
            sets.append(dataset)
        y, where = np.array(labels), np.array(sets)
        for source in SOURCES:
            p = predictor.predict_crops(crops, stain_stats=stats[source])
            for dataset in ("ALL-IDB1", "BCCD test"):
                m = where == dataset
                row = {"framing": name, "stats": source, "cells": dataset, "n": int(m.sum())}
                row["n_blast"] = int(y[m].sum())
                if y[m].min() != y[m].max():
                    met = binary_metrics(y[m], p[m], threshold=cut)
                    row |= {
                        k: round(float(met[k]), 4)
                        for k in ("accuracy", "precision", "recall", "specificity", "f1", "mcc", "auroc")
                    }
                else:
                    row["specificity"] = round(float(np.mean(p[m] < cut)), 4)
                row["mean_p_blast"] = round(float(np.mean(p[m])), 4)
                if source != "field":
                    picked = [s for s, w in zip(stats[source], where, strict=True) if w == dataset]
                    fields = [s for s, w in zip(stats["field"], where, strict=True) if w == dataset]
                    row["stats_vs_field"] = _stats_error(picked, fields)
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    return {
        "model_version": predictor.model_version,
        "model_sha256": predictor.checkpoint.sha256,
        "cell_threshold": round(cut, 4),
        "stain_statistic": statistic_of(predictor.preprocessing.stain) if predictor.preprocessing.stain else None,
        "note": (
            f"ALL-IDB1 rows: the {held_out} smears only, held out from this cross-acq model's training"
            if held_out
            else "ALL-IDB1 rows: a model trained on these smears (not held out)"
        )
        + "; BCCD test is unseen",
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(prog="python -m inference.training.eval_framing", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="checkpoint (default: the shipped weights)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N fields of each dataset (0: all)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, help="write the result JSON here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    t0 = time.time()
    result = {
        "command": "python -m inference.training.eval_framing " + " ".join(argv),
        "machine": f"{platform.machine()} torch {torch.__version__}, {args.threads} thread(s), 2-core VM",
        **run(args.model, args.limit),
    }
    result["wall_seconds"] = round(time.time() - t0, 1)
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
