"""``find_cells``: one smear in, every white cell out, with scale and quality.

Steps: estimate the red-cell diameter (``scale``), resize so a red cell is ``TARGET_RBC_PX`` pixels across
(fast on big fields, enough detail on small ones), compute normalised HSV-cone features (``colour``),
cluster (``kmeans``: modified by default, plain as the ablation), grow nuclei into cytoplasm and split
touching cells (``cells``), and map contours back to the original pixel grid.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage as ndi

from ..types import CellRegion, Quality, Segmentation
from .cells import MIN_CELL_RBC_AREAS, cell_mask, split_cells
from .colour import pixel_features
from .kmeans import disc, modified_kmeans, plain_kmeans
from .quality import assess
from .scale import estimate_rbc_diameter

TARGET_RBC_PX = 24.0  # red-cell diameter at the working resolution
MAX_UPSCALE = 2.0
METHODS = ("modified", "kmeans")
PLAIN_MIN_AREA_RBC = 0.05  # the baseline drops only specks (noise), no other morphology


def find_cells(rgb: np.ndarray, *, method: str = "modified", single_cell: bool = False) -> Segmentation:
    """Find the white cells on a smear (or the centre cell of a single-cell crop).

    Args:
        rgb: (H, W, 3) uint8 RGB, e.g. from ``inference.io.load_image``.
        method: ``"modified"`` (the paper's constrained K-means, default) or ``"kmeans"`` (plain baseline).
        single_cell: The image is a crop around one white cell (ALL-IDB2 style): return only the cell at,
            or nearest to, the centre.

    Returns:
        The cells in the image's own pixel coordinates, the red-cell diameter and quality flags.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB array, got {rgb.shape} {rgb.dtype}")
    height, width = rgb.shape[:2]
    scale = estimate_rbc_diameter(rgb)
    s = min(MAX_UPSCALE, TARGET_RBC_PX / scale.rbc_diameter_px)
    interp = cv2.INTER_AREA if s < 1.0 else cv2.INTER_LINEAR
    work = cv2.resize(rgb, (max(8, round(width * s)), max(8, round(height * s))), interpolation=interp)
    sx, sy = work.shape[1] / width, work.shape[0] / height
    rbc_px = scale.rbc_diameter_px * sx
    px = pixel_features(work)
    if method == "modified":
        clustering = modified_kmeans(px.features, rbc_px)
        mask = cell_mask(clustering.labels, clustering.nucleus, rbc_px) if clustering.has_white_cells else None
        labels = (
            split_cells(mask, rbc_px, clustering.nucleus) if mask is not None else np.zeros(work.shape[:2], np.int32)
        )
        min_area = MIN_CELL_RBC_AREAS * np.pi * (rbc_px / 2.0) ** 2
    else:
        clustering = plain_kmeans(px.features)
        opened = cv2.morphologyEx(clustering.nucleus.astype(np.uint8), cv2.MORPH_OPEN, disc(1))
        _, labels = cv2.connectedComponents(opened, connectivity=8)
        min_area = PLAIN_MIN_AREA_RBC * np.pi * (rbc_px / 2.0) ** 2
    cells = _regions(labels, min_area, sx, sy, width, height, border=max(1, int(round(0.1 * rbc_px))))
    if single_cell and cells:
        cells = [_nearest_centre(cells, width, height)]
        cells = [CellRegion(0, c.bbox, c.centroid, c.area_px, c.touches_border, c.contour) for c in cells]
    quality: Quality = assess(px, clustering.labels, clustering.nucleus, len(cells), single_cell=single_cell)
    if not scale.reliable and not single_cell:
        quality = Quality(quality.focus, quality.stain, quality.flags + ("scale_uncertain",))
    return Segmentation(width, height, float(scale.rbc_diameter_px), quality, cells)


def _nearest_centre(cells: list[CellRegion], width: int, height: int) -> CellRegion:
    cx, cy = width / 2.0, height / 2.0
    for c in cells:
        if cv2.pointPolygonTest(c.contour.astype(np.float32).reshape(-1, 1, 2), (cx, cy), False) >= 0:
            return c
    return min(cells, key=lambda c: (c.centroid[0] - cx) ** 2 + (c.centroid[1] - cy) ** 2)


def _regions(
    labels: np.ndarray, min_area: float, sx: float, sy: float, width: int, height: int, *, border: int
) -> list[CellRegion]:
    """CellRegions in original coordinates from a working-resolution label image."""
    h, w = labels.shape
    n = int(labels.max())
    if n == 0:
        return []
    objects = ndi.find_objects(labels)
    cells: list[CellRegion] = []
    for i, sl in enumerate(objects, start=1):
        if sl is None:
            continue
        sub = (labels[sl] == i).astype(np.uint8)
        area_work = int(sub.sum())
        if area_work < min_area:
            continue
        contours, _ = cv2.findContours(sub, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        contour = max(contours, key=cv2.contourArea).reshape(-1, 2).astype(np.float64)
        contour[:, 0] = (contour[:, 0] + sl[1].start + 0.5) / sx - 0.5
        contour[:, 1] = (contour[:, 1] + sl[0].start + 0.5) / sy - 0.5
        contour = np.clip(np.round(contour), 0, [width - 1, height - 1]).astype(np.int32)
        ys, xs = np.nonzero(sub)
        cx = ((xs.mean() + sl[1].start + 0.5) / sx) - 0.5
        cy = ((ys.mean() + sl[0].start + 0.5) / sy) - 0.5
        x0, y0 = contour.min(axis=0)
        x1, y1 = contour.max(axis=0)
        # Within a tenth of a red cell of the edge counts: JPEG and vignetting often eat the outermost pixels.
        touches = min(sl[0].start, sl[1].start, h - sl[0].stop, w - sl[1].stop) < border
        cells.append(
            CellRegion(
                id=len(cells),
                bbox=(int(x0), int(y0), int(x1 - x0 + 1), int(y1 - y0 + 1)),
                centroid=(float(cx), float(cy)),
                area_px=int(round(area_work / (sx * sy))),
                touches_border=bool(touches),
                contour=contour,
            )
        )
    return cells
