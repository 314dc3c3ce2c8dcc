"""Scale-normalised crops of one cell, so magnification never reaches the classifier.

The crop window spans ``cell_scale`` red-cell diameters around the cell's centroid and is resized to
``out_size``: a red cell is ``out_size / cell_scale`` pixels across in every crop, whether it came from a
2592x1944 ALL-IDB1 field, a 640x480 BCCD field or a 257x257 ALL-IDB2 crop (whose framing, about three
red-cell diameters, is the default). Outside the image, the crop is padded with the slide's own background
colour rather than black, so the border is not a feature.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..types import CellRegion

DEFAULT_CELL_SCALE = 3.0  # red-cell diameters across the crop; ALL-IDB2 crops span about 2.9


def background_colour(rgb: np.ndarray) -> np.ndarray:
    """Median RGB of the brightest tenth of the image (the slide background), as uint8 (3,)."""
    step = max(1, int(np.sqrt(rgb.shape[0] * rgb.shape[1] / 40_000)))
    sample = rgb[::step, ::step].reshape(-1, 3)
    light = sample.astype(np.int32).sum(axis=1)
    bright = sample[light >= np.percentile(light, 90)]
    return np.median(bright, axis=0).astype(np.uint8)


def crop_cell(
    rgb: np.ndarray,
    region: CellRegion,
    *,
    rbc_diameter_px: float,
    out_size: int = 128,
    cell_scale: float = DEFAULT_CELL_SCALE,
    mask_background: bool = False,
    background: np.ndarray | None = None,
) -> np.ndarray:
    """Cut a square, cell-centred, scale-normalised crop.

    Args:
        rgb: The smear, (H, W, 3) uint8 RGB.
        region: The cell, in the smear's coordinates.
        rbc_diameter_px: Red-cell diameter in the smear's pixels (``Segmentation.rbc_diameter_px``).
        out_size: Side of the returned crop in pixels.
        cell_scale: How many red-cell diameters the crop spans.
        mask_background: Paint everything outside the cell's contour with the background colour.
        background: The background colour (RGB uint8); estimated from ``rgb`` when None.

    Returns:
        (out_size, out_size, 3) uint8 RGB.
    """
    if rbc_diameter_px <= 0 or cell_scale <= 0 or out_size <= 0:
        raise ValueError("rbc_diameter_px, cell_scale and out_size must be positive")
    bg = background_colour(rgb) if background is None else np.asarray(background, np.uint8)
    h, w = rgb.shape[:2]
    side = max(2, int(round(cell_scale * rbc_diameter_px)))
    cx, cy = region.centroid
    x0, y0 = int(round(cx - side / 2.0)), int(round(cy - side / 2.0))
    x1, y1 = x0 + side, y0 + side
    window = np.empty((side, side, 3), np.uint8)
    window[:] = bg
    sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if sx1 > sx0 and sy1 > sy0:
        window[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
    if mask_background and region.contour is not None and len(region.contour) >= 3:
        inside = np.zeros((side, side), np.uint8)
        cv2.fillPoly(inside, [(region.contour - np.array([x0, y0])).astype(np.int32)], 1)
        window[inside == 0] = bg
    interp = cv2.INTER_AREA if side > out_size else cv2.INTER_LINEAR
    return cv2.resize(window, (out_size, out_size), interpolation=interp)


def square_resize(rgb: np.ndarray, size: int) -> np.ndarray:
    """Pad to square with edge pixels (crops at the smear border are not square), then resize."""
    h, w = rgb.shape[:2]
    if h != w:
        d = abs(h - w)
        pad = ((d // 2, d - d // 2), (0, 0), (0, 0)) if h < w else ((0, 0), (d // 2, d - d // 2), (0, 0))
        rgb = np.pad(rgb, pad, mode="edge")
    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)


# The smallest side of a crop stored for a person to judge (the classifier's input size is separate: the checkpoint's
# ``Preprocessing.input_size``). A lymphocyte is about one red-cell diameter, a third of the crop: ~85 px at 256.
REVIEW_MIN_PX = 256


def crop_for_review(
    rgb: np.ndarray,
    region: CellRegion,
    *,
    rbc_diameter_px: float,
    min_px: int = REVIEW_MIN_PX,
    cell_scale: float = DEFAULT_CELL_SCALE,
    background: np.ndarray | None = None,
) -> np.ndarray:
    """The crop a morphologist looks at: the classifier's framing, at the smear's own pixels.

    The window is the one :func:`crop_cell` cuts for the classifier (same centre, same ``cell_scale``), so a
    Grad-CAM map laid over it lines up, but it is kept at native resolution; a window smaller than ``min_px`` (a
    low-magnification field) is enlarged with bicubic interpolation so it is never shown as a thumbnail.

    Returns:
        (S, S, 3) uint8 RGB with S = max(min_px, the window's side in smear pixels).
    """
    side = max(2, int(round(cell_scale * rbc_diameter_px)))
    native = crop_cell(rgb, region, rbc_diameter_px=rbc_diameter_px, out_size=side, cell_scale=cell_scale,
                       background=background)  # fmt: skip
    if side >= min_px:
        return native
    return cv2.resize(native, (min_px, min_px), interpolation=cv2.INTER_CUBIC)
