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
from .cells import MAX_SINGLE_RBC_AREAS, MIN_CELL_RBC_AREAS, cell_mask, merge_lobes, split_cells
from .colour import nucleus_score, pixel_features
from .crop import DEFAULT_CELL_SCALE
from .kmeans import BACKGROUND, MIN_NUCLEUS_RBC_AREAS, disc, modified_kmeans, plain_kmeans
from .quality import assess
from .reject import RegionFeatures, is_white_cell, region_features
from .scale import estimate_rbc_diameter

TARGET_RBC_PX = 24.0  # red-cell diameter at the working resolution
MAX_UPSCALE = 2.0
# A big field of small red cells (2592x1944 at 12 px) is not enlarged past this many pixels: it is segmented at
# a smaller red-cell size instead (every rule is relative to it), which keeps the time bounded.
MAX_WORK_PIXELS = 2_600_000
METHODS = ("modified", "kmeans")
PLAIN_MIN_AREA_RBC = 0.05  # the baseline drops only specks (noise), no other morphology
SINGLE_CELL_MIN_RBC_AREAS = 0.05  # single-cell crops: anything but a speck at the centre is the cell
SINGLE_CELL_MAX_RBC = 3.0  # a centre cell wider than this many red cells means the scale is wrong
TYPICAL_WBC_RBC = 1.6  # a white cell's typical diameter in red cells, to re-derive the scale from it
SINGLE_CELL_MIN_FRAME_RBC = 6.0  # a single-cell crop spanning more red cells than this is not believed
LOBE_REACH_RBC = 0.6  # single-cell crops: regions this close to the centre are lobes of the centred cell


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
    scale = estimate_rbc_diameter(rgb)
    rbc_diameter = scale.rbc_diameter_px
    trusted = scale.reliable
    if single_cell and rbc_diameter < min(rgb.shape[:2]) / SINGLE_CELL_MIN_FRAME_RBC:
        # A crop around one white cell spans a few red cells; a diameter implying many more means the
        # spectrum measured fragments. Fall back to our own crops' framing (``crop.DEFAULT_CELL_SCALE``).
        rbc_diameter = min(rgb.shape[:2]) / DEFAULT_CELL_SCALE
        trusted = False
    seg, _ = _segment(rgb, rbc_diameter, method, single_cell)
    if single_cell and seg.cells:
        # A crop filled by one big white cell shows too few whole red cells for the spectrum, which then
        # measures fragments. White cells are 1 to 2.5 red cells across: a centre cell wider than
        # SINGLE_CELL_MAX_RBC says the scale is wrong, so redo it at the scale that cell implies.
        cell_diameter = 2.0 * np.sqrt(seg.cells[0].area_px / np.pi)
        if cell_diameter > SINGLE_CELL_MAX_RBC * rbc_diameter:
            seg, _ = _segment(rgb, cell_diameter / TYPICAL_WBC_RBC, method, single_cell)
            trusted = False
    quality = seg.quality
    if not trusted:
        quality = Quality(quality.focus, quality.stain, quality.flags + ("scale_uncertain",))
    return Segmentation(seg.width, seg.height, seg.rbc_diameter_px, quality, seg.cells)


def find_candidates(rgb: np.ndarray) -> tuple[Segmentation, list[RegionFeatures]]:
    """Every candidate region of the modified method before ``reject.is_white_cell``, with its features.

    For setting the rejection thresholds on training images (``inference.training.seg_features``).
    """
    scale = estimate_rbc_diameter(rgb)
    seg, feats = _segment(rgb, scale.rbc_diameter_px, "modified", False, reject=False)
    return seg, feats


def _segment(
    rgb: np.ndarray, rbc_diameter_px: float, method: str, single_cell: bool, *, reject: bool = True
) -> tuple[Segmentation, list[RegionFeatures]]:
    """Segment at a given red-cell diameter (pixels of ``rgb``); the cells' rejection features alongside
    (modified smear mode only, else empty)."""
    height, width = rgb.shape[:2]
    s = min(MAX_UPSCALE, TARGET_RBC_PX / rbc_diameter_px, np.sqrt(MAX_WORK_PIXELS / (height * width)))
    interp = cv2.INTER_AREA if s < 1.0 else cv2.INTER_LINEAR
    work = cv2.resize(rgb, (max(8, round(width * s)), max(8, round(height * s))), interpolation=interp)
    sx, sy = work.shape[1] / width, work.shape[0] / height
    rbc_px = rbc_diameter_px * sx
    rbc_area = np.pi * (rbc_px / 2.0) ** 2
    px = pixel_features(work)
    feats: dict[int, RegionFeatures] = {}
    if method == "modified":
        # In a crop centred on one white cell, the centred object is the cell by construction: the size
        # floor that keeps platelets out of smear counts would only lose small cells here.
        min_nucleus = SINGLE_CELL_MIN_RBC_AREAS if single_cell else MIN_NUCLEUS_RBC_AREAS
        clustering = modified_kmeans(px.features, rbc_px, min_nucleus_rbc_areas=min_nucleus)
        mask = cell_mask(clustering.labels, clustering.nucleus, rbc_px) if clustering.has_white_cells else None
        labels = (
            split_cells(mask, rbc_px, clustering.nucleus, _darkness(px.features, rbc_px))
            if mask is not None
            else np.zeros(work.shape[:2], np.int32)
        )
        if mask is not None and not single_cell:
            labels = merge_lobes(labels, clustering.nucleus, clustering.labels == BACKGROUND, rbc_px)
        min_area = (SINGLE_CELL_MIN_RBC_AREAS if single_cell else MIN_CELL_RBC_AREAS) * rbc_area
        if not single_cell:
            feats = region_features(labels, clustering.nucleus, rbc_px)
            if reject:
                drop = [i for i, f in feats.items() if not is_white_cell(f)]
                if drop:
                    labels = np.where(np.isin(labels, drop), 0, labels)
                feats = {i: f for i, f in feats.items() if i not in drop}
    else:
        clustering = plain_kmeans(px.features)
        opened = cv2.morphologyEx(clustering.nucleus.astype(np.uint8), cv2.MORPH_OPEN, disc(1))
        _, labels = cv2.connectedComponents(opened, connectivity=8)
        min_area = PLAIN_MIN_AREA_RBC * rbc_area
    if single_cell and method == "modified":
        labels = _merge_lobes_at_centre(labels, rbc_px)
    cells, kept = _regions(labels, min_area, sx, sy, width, height, border=max(1, int(round(0.1 * rbc_px))))
    cell_feats = [feats[i] for i in kept] if feats else []
    if single_cell and cells:
        cells = [_nearest_centre(cells, width, height)]
        cells = [CellRegion(0, c.bbox, c.centroid, c.area_px, c.touches_border, c.contour) for c in cells]
    quality: Quality = assess(px, clustering.labels, clustering.nucleus, len(cells), single_cell=single_cell)
    return Segmentation(width, height, float(rbc_diameter_px), quality, cells), cell_feats


def _darkness(features: np.ndarray, rbc_px: float) -> np.ndarray:
    """Nucleus score per pixel, lightly smoothed (sigma 0.05 red-cell diameters) so granules do not make peaks."""
    return cv2.GaussianBlur(nucleus_score(features).astype(np.float32), (0, 0), max(0.5, 0.05 * rbc_px))


def _merge_lobes_at_centre(labels: np.ndarray, rbc_px: float) -> np.ndarray:
    """Join the regions near the crop centre into one cell while they still fit one white cell.

    Lobed nuclei (neutrophils, eosinophils) whose pale cytoplasm clustered with red cells come out as
    separate lobes; in a single-cell crop, regions within ``LOBE_REACH_RBC`` of the crop centre belong to
    the centred cell unless together they are larger than the largest single white cell.
    """
    h, w = labels.shape
    near = np.zeros((h, w), np.uint8)
    cv2.circle(near, (w // 2, h // 2), max(1, int(round(LOBE_REACH_RBC * rbc_px))), 1, -1)
    ids = [int(i) for i in np.unique(labels[near > 0]) if i > 0]
    if len(ids) < 2:
        return labels
    merged = np.isin(labels, ids)
    if merged.sum() > MAX_SINGLE_RBC_AREAS * np.pi * (rbc_px / 2.0) ** 2:
        return labels
    out = labels.copy()
    out[merged] = ids[0]
    return out


def _nearest_centre(cells: list[CellRegion], width: int, height: int) -> CellRegion:
    cx, cy = width / 2.0, height / 2.0
    for c in cells:
        if cv2.pointPolygonTest(c.contour.astype(np.float32).reshape(-1, 1, 2), (cx, cy), False) >= 0:
            return c
    return min(cells, key=lambda c: (c.centroid[0] - cx) ** 2 + (c.centroid[1] - cy) ** 2)


def _regions(
    labels: np.ndarray, min_area: float, sx: float, sy: float, width: int, height: int, *, border: int
) -> tuple[list[CellRegion], list[int]]:
    """CellRegions in original coordinates from a working-resolution label image, and their labels."""
    h, w = labels.shape
    n = int(labels.max())
    kept: list[int] = []
    if n == 0:
        return [], kept
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
        kept.append(i)
    return cells, kept
