"""Does framing change the call? ``python -m inference.eval_framing [--model PATH] [--every N] --json``.

Other labs send cell images framed their own way. This scores a checkpoint on the white cells of BCCD
(another lab, all normal cells: VOC WBC boxes) cut three ways, tight (the box + 10%), medium (1.8x the box)
and wide (2.6x), each classified as it is (``--framing as-is``) and re-cut around its centre cell at the
training framing (``--framing auto``, ``segment.reframe_cell``). BCCD holds no blasts, so this measures
specificity only: how often another lab's normal cells are called blasts. Meaningful only for a checkpoint
not trained on BCCD (the JSON says whether it was, from the checkpoint's stored training data).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys

import numpy as np
import torch

from .datasets import bccd_images
from .io import load_image
from .predict import Predictor

MARGINS = {"tight": 1.1, "medium": 1.8, "wide": 2.6}  # crop side / longer box side


def box_crop(rgb: np.ndarray, box: tuple[int, int, int, int], margin: float) -> np.ndarray:
    """A square window ``margin`` times the box's longer side, centred on the box, cut at the image edge."""
    x0, y0, x1, y1 = box
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) / 2 * margin
    h, w = rgb.shape[:2]
    return rgb[int(max(0, cy - half)) : int(min(h, cy + half)), int(max(0, cx - half)) : int(min(w, cx + half))]


def run(model: str | None, every: int) -> dict:
    predictor = Predictor.load(model)
    cells: dict[str, list[np.ndarray]] = {k: [] for k in MARGINS}
    images = bccd_images()[::every]
    for im in images:
        rgb = load_image(im.path)
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
                    "specificity": round(float(np.mean(p < 0.5)), 4),
                    "mean_p_blast": round(float(np.mean(p)), 4),
                    "reframed": int(framed.sum()),
                }
            )
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    trained_on = predictor.checkpoint.metrics.get("data_flags") or predictor.checkpoint.metrics.get("data")
    return {
        "model_version": predictor.model_version,
        "model_sha256": predictor.checkpoint.sha256,
        "model_trained_on": trained_on,
        "bccd_images": len(images),
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(prog="python -m inference.eval_framing", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="checkpoint (default: the shipped weights)")
    ap.add_argument("--every", type=int, default=1, help="use every Nth BCCD image")
    ap.add_argument("--json", action="store_true", help="print the result as JSON (the only format)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    result = {
        "command": "python -m inference.eval_framing " + " ".join(argv),
        "machine": f"{platform.machine()} torch {torch.__version__}",
        **run(args.model, args.every),
    }
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
