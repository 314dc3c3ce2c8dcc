"""Another lab's normal blood: ``python -m inference.eval_bccd [--model PATH] [--split test] --json``.

BCCD (another lab, microscope and stain; no leukaemia) is the only other-lab data here, so this measures
specificity only, at two levels:

* smears: each field analysed end to end (segmentation, classification, the slide call); how many are
  called ``suspicious`` (false alarms), ``negative`` or ``insufficient``;
* cells: the annotated white cells (VOC WBC boxes) cut three ways, tight (the box + 10%), medium (1.8x the
  box) and wide (2.6x), each classified as it is (``--framing as-is``) and re-cut around its centre cell at
  the training framing (``--framing auto``, ``segment.reframe_cell``): does framing change the call?

The shipped model trains on BCCD's ``trainval`` fields (``train --bccd``), so only ``--split test`` is unseen
by it; the JSON names the checkpoint's training data.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys

import numpy as np
import torch

from ..io import load_image
from ..predict import Predictor
from ..types import CALLS
from .datasets import bccd_images

MARGINS = {"tight": 1.1, "medium": 1.8, "wide": 2.6}  # crop side / longer box side


def box_crop(rgb: np.ndarray, box: tuple[int, int, int, int], margin: float) -> np.ndarray:
    """A square window ``margin`` times the box's longer side, centred on the box, cut at the image edge."""
    x0, y0, x1, y1 = box
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) / 2 * margin
    h, w = rgb.shape[:2]
    return rgb[int(max(0, cy - half)) : int(min(h, cy + half)), int(max(0, cx - half)) : int(min(w, cx + half))]


def run(model: str | None, split: str | None, limit: int = 0) -> dict:
    predictor = Predictor.load(model)
    cells: dict[str, list[np.ndarray]] = {k: [] for k in MARGINS}
    images = bccd_images(split=split)[: limit or None]
    calls: dict[str, int] = dict.fromkeys(CALLS, 0)
    cut = predictor.operating_point.cell_threshold
    max_p = []
    for im in images:
        rgb = load_image(im.path)
        summary = predictor.analyze(rgb, with_heatmaps=False).summary
        calls[summary.call] += 1
        max_p.append(summary.max_p_blast)
        for box in im.wbc_boxes:
            for name, margin in MARGINS.items():
                cells[name].append(box_crop(rgb, box, margin))
    rows = []
    for name, crops in cells.items():
        for framing in ("as-is", "auto"):
            p, framed = predictor.predict_cells(crops, reframe=framing == "auto")
            rows.append(
                {
                    "framing_of_images": name,
                    "framing": framing,
                    "n": len(crops),
                    "specificity": round(float(np.mean(p < cut)), 4),
                    "mean_p_blast": round(float(np.mean(p)), 4),
                    "reframed": int(framed.sum()),
                }
            )
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    m = predictor.checkpoint.metrics
    return {
        "model_version": predictor.model_version,
        "model_sha256": predictor.checkpoint.sha256,
        "model_trained_on": {"data": m.get("data"), **(m.get("data_flags") or {})},
        "split": split or "all",
        "smears": {
            "n": len(images),
            "calls": calls,
            "false_alarm_rate": round(calls["suspicious"] / max(1, len(images)), 4),
            "median_max_p_blast": round(float(np.median(max_p)), 4) if max_p else None,
        },
        "cells": rows,
    }


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(prog="python -m inference.eval_bccd", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="checkpoint (default: the shipped weights)")
    ap.add_argument("--split", choices=["test", "val", "train", "trainval"], help="BCCD fields (default: all)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N fields (0: all)")
    ap.add_argument("--json", action="store_true", help="print the result as JSON (the only format)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    result = {
        "command": "python -m inference.eval_bccd " + " ".join(argv),
        "machine": f"{platform.machine()} torch {torch.__version__}",
        **run(args.model, args.split, args.limit),
    }
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
