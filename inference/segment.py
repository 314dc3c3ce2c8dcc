"""Find white cells on blood-smear images: the public API and the ``python -m inference.segment`` CLI.

Method (after Prasad & Madhusudhana Rao 2026, "modified K-means"): pixels are clustered in normalised HSV
into background, red cell, cytoplasm and nucleus, and cluster centres are re-estimated under colour and
morphological constraints (components accepted by area, solidity and size relative to the field's red-cell
size; centres updated from accepted pixels only). What we changed and why:

* The red-cell diameter is estimated from each image and every size rule is a multiple of it, so one
  pipeline serves ALL-IDB1, BCCD and small patches without per-dataset settings (the paper has one dataset).
* Clusters start from colour priors, not random seeds, so cluster identities are known.
* Touching white cells are split by a marker watershed with a neck test, on the cell mask and, for regions
  too big or concave for one cell, on the nucleus mask (packed blasts).
* Plain K-means stays available (``method="kmeans"``) as the ablation baseline.

Details live in ``inference.segmentation`` (one module per step); see ``docs/segmentation.md``.

CLI::

    python -m inference.segment IMAGE [IMAGE ...] --json [--out DIR] [--method modified|kmeans] [--single-cell]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from .io import ImageError, load_image
from .segmentation.crop import DEFAULT_CELL_SCALE, background_colour, crop_cell, square_resize
from .segmentation.pipeline import METHODS, find_cells
from .types import Segmentation

__all__ = ["find_cells", "crop_cell", "background_colour", "reframe_cell", "DEFAULT_CELL_SCALE", "overlay", "main"]


def reframe_cell(
    rgb: np.ndarray, *, out_size: int = 128, cell_scale: float = DEFAULT_CELL_SCALE
) -> tuple[np.ndarray, Segmentation]:
    """Re-cut an image of one white cell, framed and magnified in any way, to the classifier's framing.

    Other labs' cell images come tight around the cell, wide with many red cells, or anything between, while
    the classifier is trained on crops spanning ``cell_scale`` red-cell diameters. The centre cell is found
    in single-cell mode (which also measures the red-cell size, or infers it from the cell's own size when
    too few red cells show) and cut again at the standard scale, padded with the image's background colour.

    Returns:
        The (out_size, out_size, 3) crop and the single-cell segmentation. When no cell is found the crop is
        the whole image resized, and ``segmentation.cells`` is empty so the caller can tell.
    """
    seg = find_cells(rgb, single_cell=True)
    if not seg.cells:
        return square_resize(rgb, out_size), seg
    crop = crop_cell(
        rgb,
        seg.cells[0],
        rbc_diameter_px=seg.rbc_diameter_px,
        out_size=out_size,
        cell_scale=cell_scale,
        background=background_colour(rgb),
    )
    return crop, seg


def overlay(rgb: np.ndarray, seg: Segmentation) -> np.ndarray:
    """The smear with each cell's contour and id drawn on it, (H, W, 3) uint8 RGB."""
    out = rgb.copy()
    thickness = max(1, int(round(seg.rbc_diameter_px / 20)))
    for cell in seg.cells:
        colour = (255, 140, 0) if cell.touches_border else (0, 200, 0)
        cv2.polylines(out, [cell.contour.reshape(-1, 1, 2)], True, colour, thickness)
        x, y, _, _ = cell.bbox
        cv2.putText(
            out,
            str(cell.id),
            (x, max(0, y - 2 * thickness)),
            cv2.FONT_HERSHEY_SIMPLEX,
            thickness * 0.5,
            colour,
            thickness,
        )
    return out


def _write_outputs(rgb: np.ndarray, seg: Segmentation, out_dir: Path, stem: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out_dir / f"{stem}_overlay.png"), cv2.cvtColor(overlay(rgb, seg), cv2.COLOR_RGB2BGR))
    bg = background_colour(rgb)
    for cell in seg.cells:
        crop = crop_cell(rgb, cell, rbc_diameter_px=seg.rbc_diameter_px, background=bg)
        cv2.imwrite(str(out_dir / f"{stem}_cell{cell.id:03d}.png"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))


def main(argv: list[str] | None = None) -> int:
    """Segment each image, print one JSON line per image; exit 1 if any image failed."""
    parser = argparse.ArgumentParser(prog="python -m inference.segment", description=__doc__.split("\n")[0])
    parser.add_argument("images", nargs="+", type=Path)
    parser.add_argument("--json", action="store_true", help="one JSON object per line (the only output format)")
    parser.add_argument("--out", type=Path, help="also write an overlay PNG and one crop PNG per cell here")
    parser.add_argument("--method", choices=METHODS, default="modified")
    parser.add_argument("--single-cell", action="store_true", help="images are crops around one white cell")
    args = parser.parse_args(argv)
    failed = 0
    for path in args.images:
        try:
            rgb = load_image(path)
            seg = find_cells(rgb, method=args.method, single_cell=args.single_cell)
        except ImageError as exc:
            failed += 1
            print(json.dumps({"image": str(path), "error": exc.code, "message": exc.message}), flush=True)
            continue
        print(json.dumps({"image": str(path), **seg.to_json()}), flush=True)
        if args.out is not None:
            _write_outputs(rgb, seg, args.out, path.stem)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
