"""A synthetic blood-smear generator with exact ground truth, for tests that must not need real data.

Red cells are pink discs with a pale centre, white cells are lilac discs (cytoplasm) holding a darker,
off-centre purple nucleus; some white cells come as touching pairs. Optional stain shift (hue rotation,
saturation scale), brightness change, Gaussian noise and blur. Every size is a multiple of the red-cell
diameter, so the same scene can be drawn at several magnifications.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

BACKGROUND = (236, 226, 208)
RBC_BODY = (214, 150, 152)
RBC_CENTRE = (228, 182, 180)
CYTOPLASM = (196, 176, 220)
NUCLEUS = (104, 58, 150)
PLATELET = (120, 70, 160)
CLUMP_MATRIX = (200, 170, 210)
EOSINOPHIL = (222, 150, 130)


@dataclass
class SyntheticSmear:
    """The image and what is really on it."""

    rgb: np.ndarray  # (H, W, 3) uint8
    rbc_diameter_px: float
    wbc_masks: list[np.ndarray]  # one (H, W) bool mask per white cell (nucleus + cytoplasm)
    wbc_centres: list[tuple[float, float]]  # x, y
    touching_pairs: list[tuple[int, int]]  # indices into wbc_masks

    @property
    def wbc_boxes(self) -> list[tuple[int, int, int, int]]:
        """(x0, y0, x1, y1) inclusive boxes of the white cells."""
        out = []
        for m in self.wbc_masks:
            ys, xs = np.nonzero(m)
            out.append((int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())))
        return out


def _shift_stain(rgb: np.ndarray, hue_deg: float, saturation: float, brightness: float) -> np.ndarray:
    hsv = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2HSV)
    hsv[..., 0] = (hsv[..., 0] + hue_deg) % 360.0
    hsv[..., 1] = np.clip(hsv[..., 1] * saturation, 0, 1)
    hsv[..., 2] = np.clip(hsv[..., 2] * brightness, 0, 1)
    return np.clip(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def make_smear(
    *,
    width: int = 640,
    height: int = 480,
    rbc_diameter: float = 40.0,
    n_single: int = 3,
    n_pairs: int = 1,
    rbc_density: float = 0.45,
    hue_shift_deg: float = 0.0,
    saturation: float = 1.0,
    brightness: float = 1.0,
    noise_sigma: float = 3.0,
    blur_rbc: float = 0.03,
    seed: int = 0,
    n_platelets: int = 0,
    n_clumps: int = 0,
    n_lobed: int = 0,
    n_eosinophils: int = 0,
    n_clusters: int = 0,
    cluster_size: int = 3,
    n_border: int = 0,
    background: tuple[int, int, int] = BACKGROUND,
) -> SyntheticSmear:
    """Draw a smear.

    Args:
        width: Image width in pixels.
        height: Image height in pixels.
        rbc_diameter: Red-cell diameter in pixels (sets the magnification).
        n_single: Isolated white cells.
        n_pairs: Touching white-cell pairs (their discs overlap by ~10% of a diameter).
        rbc_density: Fraction of the free area covered by red cells (approximately).
        hue_shift_deg: Rotate every hue by this much (stain variation).
        saturation: Multiply saturation (stain strength).
        brightness: Multiply value (lamp brightness).
        noise_sigma: Gaussian pixel noise, in grey levels.
        blur_rbc: Gaussian blur sigma in red-cell diameters (optics); 0 for none.
        seed: RNG seed; the same seed draws the same smear.
        n_platelets: Single platelets (dark purple dots ~0.25 red-cell diameters across; not white cells).
        n_clumps: Platelet clumps (5-8 platelets in a group on a pale matrix 1.4 red cells wide; not white cells).
        n_lobed: Neutrophil-like white cells: pale cytoplasm holding a nucleus of 3-4 thin lobes in a chain
            (one cell each; drawn after the plain white cells, listed after them in ``wbc_masks``).
        n_eosinophils: Bilobed eosinophil-like cells: two round nucleus lobes touching at a narrow waist, in an
            orange-pink granular cytoplasm that is coloured like red cells (one cell each).
        n_clusters: Packed clusters of ``cluster_size`` blast-like cells (big nucleus, thin cytoplasm) whose
            discs overlap by ~20% of a diameter; each cell is one entry of ``wbc_masks``.
        n_border: White cells cut by the image border (centre inside, within 0.5 diameters of an edge).
        background: Slide background colour (RGB), before any stain shift.
    """
    rng = np.random.default_rng(seed)
    d = rbc_diameter
    img = np.empty((height, width, 3), np.uint8)
    img[:] = background
    occupied = np.zeros((height, width), np.uint8)
    wbc_specs: list[tuple[float, float, float]] = []  # x, y, radius
    pairs: list[tuple[int, int]] = []
    margin = 1.4 * d

    def free_spot(radius: float) -> tuple[float, float] | None:
        for _ in range(200):
            x = rng.uniform(margin, width - margin)
            y = rng.uniform(margin, height - margin)
            if all(np.hypot(x - wx, y - wy) > radius + wr + 0.6 * d for wx, wy, wr in wbc_specs):
                return x, y
        return None

    for _ in range(n_pairs):
        r1, r2 = rng.uniform(0.75, 0.95) * d, rng.uniform(0.75, 0.95) * d
        spot = free_spot(r1 + r2)
        if spot is None:
            continue
        angle = rng.uniform(0, np.pi)
        gap = 0.9 * (r1 + r2)
        x1, y1 = spot[0] - np.cos(angle) * gap / 2, spot[1] - np.sin(angle) * gap / 2
        x2, y2 = spot[0] + np.cos(angle) * gap / 2, spot[1] + np.sin(angle) * gap / 2
        pairs.append((len(wbc_specs), len(wbc_specs) + 1))
        wbc_specs += [(x1, y1, r1), (x2, y2, r2)]
    for _ in range(n_single):
        r = rng.uniform(0.55, 1.0) * d
        spot = free_spot(r)
        if spot is not None:
            wbc_specs.append((spot[0], spot[1], r))

    lobed: list[int] = []
    for _ in range(n_lobed):
        r = rng.uniform(0.8, 0.95) * d
        spot = free_spot(r)
        if spot is not None:
            lobed.append(len(wbc_specs))
            wbc_specs.append((spot[0], spot[1], r))
    eosinophils: list[int] = []
    for _ in range(n_eosinophils):
        r = rng.uniform(0.85, 0.95) * d
        spot = free_spot(r)
        if spot is not None:
            eosinophils.append(len(wbc_specs))
            wbc_specs.append((spot[0], spot[1], r))
    clusters: list[list[int]] = []
    for _ in range(n_clusters):
        r = rng.uniform(0.75, 0.85) * d
        spot = free_spot(2.2 * r)
        if spot is None:
            continue
        members = []
        for k in range(cluster_size):
            a = 2 * np.pi * k / cluster_size + rng.uniform(-0.2, 0.2)
            reach = 0.0 if cluster_size == 1 else 0.8 * r / np.sin(np.pi / cluster_size)
            members.append(len(wbc_specs))
            wbc_specs.append((spot[0] + reach * np.cos(a), spot[1] + reach * np.sin(a), r))
        clusters.append(members)
        pairs += [(i, j) for n_i, i in enumerate(members) for j in members[n_i + 1 :]]
    for _ in range(n_border):
        r = rng.uniform(0.7, 0.9) * d
        edge = int(rng.integers(0, 4))
        along = rng.uniform(2 * d, (width if edge < 2 else height) - 2 * d)
        depth = rng.uniform(0.2, 0.5) * r
        x, y = [(along, depth), (along, height - 1 - depth), (depth, along), (width - 1 - depth, along)][edge]
        if all(np.hypot(x - wx, y - wy) > r + wr + 0.6 * d for wx, wy, wr in wbc_specs):
            wbc_specs.append((x, y, r))
    specials = set(lobed) | set(eosinophils) | {i for m in clusters for i in m}
    for x, y, r in wbc_specs:
        cv2.circle(occupied, (round(x), round(y)), round(r + 0.15 * d), 1, -1)
    # Red cells: random non-overlapping-ish discs in the free area.
    n_rbc = int(rbc_density * width * height / (np.pi * (d / 2) ** 2))
    for _ in range(n_rbc * 3):
        if n_rbc == 0:
            break
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        rr = d / 2 * rng.uniform(0.9, 1.1)
        xi, yi, ri = round(x), round(y), round(rr)
        y0, y1, x0, x1 = max(0, yi - ri), min(height, yi + ri + 1), max(0, xi - ri), min(width, xi + ri + 1)
        if occupied[y0:y1, x0:x1].mean() > 0.15 if y1 > y0 and x1 > x0 else True:
            continue
        cv2.circle(img, (xi, yi), ri, RBC_BODY, -1, cv2.LINE_AA)
        cv2.circle(img, (xi, yi), round(0.4 * rr), RBC_CENTRE, -1, cv2.LINE_AA)
        cv2.circle(occupied, (xi, yi), ri, 1, -1)
        n_rbc -= 1

    masks = []
    for i, (x, y, r) in enumerate(wbc_specs):
        cell = np.zeros((height, width), np.uint8)
        cv2.circle(cell, (round(x), round(y)), round(r), 1, -1)
        # In a touching pair the later cell is drawn on top: the earlier one loses the overlap.
        for j, (x2, y2, r2) in enumerate(wbc_specs):
            if j > i and np.hypot(x - x2, y - y2) < r + r2:
                cv2.circle(cell, (round(x2), round(y2)), round(r2), 0, -1)
        masks.append(cell.astype(bool))
    for i, (x, y, r) in enumerate(wbc_specs):
        cv2.circle(img, (round(x), round(y)), round(r), EOSINOPHIL if i in eosinophils else CYTOPLASM, -1, cv2.LINE_AA)
        if i in specials:
            continue
        nr = r * rng.uniform(0.6, 0.8)
        off = (r - nr) * 0.6
        a = rng.uniform(0, 2 * np.pi)
        cv2.circle(img, (round(x + off * np.cos(a)), round(y + off * np.sin(a))), round(nr), NUCLEUS, -1, cv2.LINE_AA)

    for i in sorted(specials):
        x, y, r = wbc_specs[i]
        if i in lobed:  # a chain of 3-4 lobes joined by thin strands, inside the cytoplasm
            n_lobes = int(rng.integers(3, 5))
            a0 = rng.uniform(0, 2 * np.pi)
            pts = [
                (
                    x + 0.42 * r * np.cos(a0 + 2 * np.pi * k / n_lobes),
                    y + 0.42 * r * np.sin(a0 + 2 * np.pi * k / n_lobes),
                )
                for k in range(n_lobes)
            ]
            for (xa, ya), (xb, yb) in zip(pts[:-1], pts[1:], strict=True):
                cv2.line(img, (round(xa), round(ya)), (round(xb), round(yb)), NUCLEUS, max(1, round(0.1 * d)))
            for xa, ya in pts:
                cv2.circle(img, (round(xa), round(ya)), round(0.3 * r), NUCLEUS, -1, cv2.LINE_AA)
        elif i in eosinophils:  # two lobes meeting at a waist
            a = rng.uniform(0, np.pi)
            for sign in (-1, 1):
                cx, cy = x + sign * 0.4 * r * np.cos(a), y + sign * 0.4 * r * np.sin(a)
                cv2.circle(img, (round(cx), round(cy)), round(0.42 * r), NUCLEUS, -1, cv2.LINE_AA)
        else:  # a blast: the nucleus fills most of the cell
            cv2.circle(img, (round(x), round(y)), round(0.78 * r), NUCLEUS, -1, cv2.LINE_AA)
    # Cluster cells are drawn overlapping; a pale line where two meet, as between packed blasts.
    for members in clusters:
        for n_i, i in enumerate(members):
            for j in members[n_i + 1 :]:
                (xa, ya, ra), (xb, yb, rb) = wbc_specs[i], wbc_specs[j]
                dist = np.hypot(xb - xa, yb - ya)
                if dist >= ra + rb:
                    continue
                mx, my = (xa + xb) / 2, (ya + yb) / 2
                ux, uy = -(yb - ya) / dist, (xb - xa) / dist
                half = np.sqrt(max(ra * ra - (dist / 2) ** 2, 0.0))
                p0 = (round(mx - ux * half), round(my - uy * half))
                p1 = (round(mx + ux * half), round(my + uy * half))
                cv2.line(img, p0, p1, CYTOPLASM, max(1, round(0.06 * d)))
    for _ in range(n_platelets):
        spot = free_spot(0.2 * d)
        if spot is not None:
            cv2.circle(img, (round(spot[0]), round(spot[1])), max(1, round(0.12 * d)), PLATELET, -1, cv2.LINE_AA)
    for _ in range(n_clumps):
        spot = free_spot(0.8 * d)
        if spot is None:
            continue
        cv2.circle(img, (round(spot[0]), round(spot[1])), round(0.7 * d), CLUMP_MATRIX, -1, cv2.LINE_AA)
        for _ in range(int(rng.integers(5, 9))):
            a, reach = rng.uniform(0, 2 * np.pi), rng.uniform(0, 0.3 * d)
            px, py = spot[0] + reach * np.cos(a), spot[1] + reach * np.sin(a)
            cv2.circle(img, (round(px), round(py)), max(1, round(0.1 * d)), PLATELET, -1, cv2.LINE_AA)
    if blur_rbc > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur_rbc * d)
    if hue_shift_deg or saturation != 1.0 or brightness != 1.0:
        img = _shift_stain(img, hue_shift_deg, saturation, brightness)
    if noise_sigma > 0:
        img = np.clip(img + rng.normal(0, noise_sigma, img.shape), 0, 255).astype(np.uint8)
    centres = [(x, y) for x, y, _ in wbc_specs]
    return SyntheticSmear(img, d, masks, centres, pairs)


def disc_mask(shape: tuple[int, int], discs: list[tuple[float, float, float]]) -> np.ndarray:
    """A boolean mask of filled discs, each (x, y, radius) in pixels: synthetic cells and nuclei for the splitters."""
    m = np.zeros(shape, np.uint8)
    for x, y, r in discs:
        cv2.circle(m, (round(x), round(y)), round(r), 1, -1)
    return m.astype(bool)
