"""Error galleries: small annotated crops of segmentation errors, laid out in a grid a person can look at.

Each tile is a window around one error, scaled so a red cell has the same size in every tile, with the
annotated truth drawn in blue (boxes or centroid dots) and the detections in green (matched) or red (false,
merged); the top-left label says where it came from. Only small crops ever leave the dataset this way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ..types import CellRegion
from .matching import Box

TRUTH = (40, 90, 255)
MATCHED = (0, 170, 0)
WRONG = (230, 0, 0)


@dataclass(frozen=True)
class ErrorTile:
    """One error to show: where, what truth and which detections lie around it."""

    label: str
    centre: tuple[float, float]  # x, y in the image
    truth_boxes: list[Box] = field(default_factory=list)
    truth_points: list[tuple[float, float]] = field(default_factory=list)
    good: list[CellRegion] = field(default_factory=list)
    bad: list[CellRegion] = field(default_factory=list)


def error_tile(
    rgb: np.ndarray, tile: ErrorTile, *, rbc_diameter_px: float, span_rbc: float = 4.0, size: int = 96
) -> np.ndarray:
    """A (size, size, 3) uint8 RGB tile of ``span_rbc`` red-cell diameters around the error."""
    side = max(8, int(round(span_rbc * rbc_diameter_px)))
    s = size / side
    cx, cy = tile.centre
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    window = np.full((side, side, 3), 255, np.uint8)
    h, w = rgb.shape[:2]
    sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(w, x0 + side), min(h, y0 + side)
    if sx1 > sx0 and sy1 > sy0:
        window[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
    out = cv2.resize(window, (size, size), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)

    def to_tile(x: float, y: float) -> tuple[int, int]:
        return int(round((x - x0) * s)), int(round((y - y0) * s))

    for b in tile.truth_boxes:
        cv2.rectangle(out, to_tile(b[0], b[1]), to_tile(b[2], b[3]), TRUTH, 1)
    for x, y in tile.truth_points:
        cv2.circle(out, to_tile(x, y), 3, TRUTH, -1)
    for cells, colour in ((tile.good, MATCHED), (tile.bad, WRONG)):
        for c in cells:
            pts = np.array([to_tile(x, y) for x, y in c.contour], np.int32).reshape(-1, 1, 2)
            cv2.polylines(out, [pts], True, colour, 1)
    cv2.rectangle(out, (0, 0), (size - 1, 10), (255, 255, 255), -1)
    cv2.putText(out, tile.label[:20], (1, 8), cv2.FONT_HERSHEY_PLAIN, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def tile_grid(tiles: list[np.ndarray], *, columns: int = 5, title: str = "") -> np.ndarray:
    """Tiles in rows of ``columns`` with a 2-px gap, under an optional title line; (H, W, 3) uint8 RGB."""
    if not tiles:
        tiles = [np.full((96, 96, 3), 255, np.uint8)]
    th, tw = tiles[0].shape[:2]
    rows = (len(tiles) + columns - 1) // columns
    top = 16 if title else 0
    grid = np.full((top + rows * (th + 2), columns * (tw + 2), 3), 255, np.uint8)
    for k, t in enumerate(tiles):
        r, c = divmod(k, columns)
        grid[top + r * (th + 2) : top + r * (th + 2) + th, c * (tw + 2) : c * (tw + 2) + tw] = t
    if title:
        cv2.putText(grid, title, (2, 12), cv2.FONT_HERSHEY_PLAIN, 0.9, (0, 0, 0), 1, cv2.LINE_AA)
    return grid
