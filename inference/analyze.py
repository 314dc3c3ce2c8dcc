"""Analyse smears end to end: ``python -m inference.analyze IMAGE [IMAGE ...] --json [--out DIR]``.

Prints one JSON object per image and line: the segmentation (cells with bbox, centroid, area) with
``p_blast`` on each cell, the slide ``summary`` (n_cells, n_blast, blast_fraction with its Wilson 95%
interval, max_p_blast, call), the model name and version, and timings. ``--out DIR`` also writes each
cell's crop and an overlay whose contours are coloured from green (p_blast 0) to red (p_blast 1).
Exit status 1 when any image could not be read (its line carries ``error`` and ``message``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from .io import ImageError, load_image
from .predict import Predictor
from .types import SmearResult


def probability_colour(p: float) -> tuple[int, int, int]:
    """RGB from green (p=0) through yellow to red (p=1)."""
    p = float(np.clip(p, 0.0, 1.0))
    return (int(255 * min(1.0, 2 * p)), int(255 * min(1.0, 2 * (1 - p))), 0)


def probability_overlay(rgb: np.ndarray, result: SmearResult) -> np.ndarray:
    """The smear with each cell outlined in its probability colour and labelled with p_blast."""
    out = rgb.copy()
    thick = max(2, round(max(rgb.shape[:2]) / 600))
    for cell in result.cells:
        colour = probability_colour(cell.p_blast)
        cv2.polylines(out, [cell.region.contour.reshape(-1, 1, 2).astype(np.int32)], True, colour, thick)
        x, y, _, _ = cell.region.bbox
        cv2.putText(
            out, f"{cell.p_blast:.2f}", (x, max(12, y - 4)), cv2.FONT_HERSHEY_SIMPLEX, thick * 0.4, colour, thick
        )
    return out


def write_outputs(rgb: np.ndarray, result: SmearResult, out_dir: Path, stem: str) -> None:
    """Overlay PNG plus one crop PNG (and heatmap PNG when computed) per cell."""
    out_dir.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out_dir / f"{stem}_overlay.png"), cv2.cvtColor(probability_overlay(rgb, result), cv2.COLOR_RGB2BGR))
    for cell in result.cells:
        name = f"{stem}_cell{cell.region.id:03d}_p{cell.p_blast:.2f}"
        cv2.imwrite(str(out_dir / f"{name}.png"), cv2.cvtColor(cell.crop, cv2.COLOR_RGB2BGR))
        if cell.heatmap is not None:
            heat = cv2.applyColorMap((cell.heatmap * 255).astype(np.uint8), cv2.COLORMAP_JET)
            blend = cv2.addWeighted(cv2.cvtColor(cell.crop, cv2.COLOR_RGB2BGR), 0.6, heat, 0.4, 0)
            cv2.imwrite(str(out_dir / f"{name}_heatmap.png"), blend)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m inference.analyze", description=__doc__.split("\n\n")[0])
    ap.add_argument("images", nargs="+", type=Path)
    ap.add_argument("--model", help="checkpoint (default: the shipped weights)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", action="store_true", help="one JSON object per line (the only output format)")
    ap.add_argument("--out", type=Path, help="write crops, heatmaps and a probability overlay here")
    ap.add_argument("--no-heatmaps", action="store_true")
    args = ap.parse_args(argv)
    predictor = Predictor.load(args.model, device=args.device)
    failed = 0
    for path in args.images:
        try:
            rgb = load_image(path)
        except ImageError as exc:
            failed += 1
            print(json.dumps({"image": str(path), "error": exc.code, "message": exc.message}), flush=True)
            continue
        result = predictor.analyze(rgb, with_heatmaps=not args.no_heatmaps and args.out is not None)
        print(json.dumps({"image": str(path), **result.to_json()}), flush=True)
        if args.out is not None:
            write_outputs(rgb, result, args.out, path.stem)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
