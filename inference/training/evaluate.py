"""Score a checkpoint on a lab's labelled crops: ``python -m inference.evaluate --manifest FILE.csv --json``.

The manifest has columns ``path,label`` (1 = blast; paths relative to the manifest's folder; other columns
ignored). Each image is classified on its own (stain stats from the image itself when the model normalises
stain). By default (``--framing as-is``) each image is resized whole: a cell-centred crop spanning about
three red-cell diameters (ALL-IDB2's framing) is what the model is trained on. ``--framing auto`` first
re-cuts each image around its centre cell at that framing, measuring the scale from the red cells in view
(``Predictor.predict_cells``). It did not help on the other lab's cells we have (BCCD,
``python -m inference.eval_bccd``; docs/results/bccd.md), so it is not the default. ``ms_per_image`` is the
wall time of framing plus classification divided by the number of images (images already decoded).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from ..io import ImageError, load_image
from ..predict import Predictor
from .data import read_manifest
from .metrics import binary_metrics


def evaluate_manifest(manifest: str, *, model: str | None = None, device: str = "cpu", framing: str = "as-is") -> dict:
    """Metrics of the model on a manifest's crops, at the checkpoint's cell threshold on calibrated p."""
    rows = read_manifest(manifest)
    crops, labels = [], []
    for path, label in rows:
        try:
            crops.append(load_image(path))
        except (ImageError, OSError) as exc:
            raise ValueError(f"{manifest}: cannot read {path}: {exc}") from exc
        labels.append(label)
    predictor = Predictor.load(model, device=device)
    t0 = time.perf_counter()
    p, framed = predictor.predict_cells(crops, reframe=framing == "auto")
    elapsed = time.perf_counter() - t0
    m = binary_metrics(np.array(labels), p, threshold=predictor.operating_point.cell_threshold)
    keys = ("n", "accuracy", "precision", "recall", "specificity", "f1", "mcc", "auroc")
    out = {k: (m[k] if k == "n" else round(float(m[k]), 4)) for k in keys}
    out["ms_per_image"] = round(elapsed * 1e3 / max(len(crops), 1), 2)
    if framing == "auto" and not framed.all():
        print(
            f"note: no cell found in {int((~framed).sum())} of {len(crops)} images; classified as is", file=sys.stderr
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m inference.evaluate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--model", help="checkpoint (default: the shipped weights)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "--framing",
        default="as-is",
        choices=["as-is", "auto"],
        help="as-is: resize each image whole (default); auto: re-cut it around its centre cell at the training scale",
    )
    ap.add_argument("--json", action="store_true", help="print JSON (default: one line per metric)")
    args = ap.parse_args(argv)
    try:
        out = evaluate_manifest(args.manifest, model=args.model, device=args.device, framing=args.framing)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:12s} {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
