"""Score a checkpoint on a lab's labelled crops: ``python -m inference.evaluate --manifest FILE.csv --json``.

The manifest has columns ``path,label`` (1 = blast; paths relative to the manifest's folder; other columns
ignored). Each crop is classified on its own (stain stats from the crop itself when the model normalises stain).
``ms_per_image`` is the wall time of classification divided by the number of crops (images already decoded).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from .data import read_manifest
from .io import ImageError, load_image
from .metrics import binary_metrics
from .predict import Predictor


def evaluate_manifest(manifest: str, *, model: str | None = None, device: str = "cpu") -> dict:
    """Metrics of the model on a manifest's crops (threshold 0.5 on calibrated p)."""
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
    p = predictor.predict_crops(crops)
    elapsed = time.perf_counter() - t0
    m = binary_metrics(np.array(labels), p)
    keys = ("n", "accuracy", "precision", "recall", "specificity", "f1", "mcc", "auroc")
    out = {k: (m[k] if k == "n" else round(float(m[k]), 4)) for k in keys}
    out["ms_per_image"] = round(elapsed * 1e3 / max(len(crops), 1), 2)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m inference.evaluate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--model", help="checkpoint (default: the shipped weights)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", action="store_true", help="print JSON (default: one line per metric)")
    args = ap.parse_args(argv)
    try:
        out = evaluate_manifest(args.manifest, model=args.model, device=args.device)
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
