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
    """
    rng = np.random.default_rng(seed)
    d = rbc_diameter
    img = np.empty((height, width, 3), np.uint8)
    img[:] = BACKGROUND
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
    for x, y, r in wbc_specs:
        cv2.circle(img, (round(x), round(y)), round(r), CYTOPLASM, -1, cv2.LINE_AA)
        nr = r * rng.uniform(0.6, 0.8)
        off = (r - nr) * 0.6
        a = rng.uniform(0, 2 * np.pi)
        cv2.circle(img, (round(x + off * np.cos(a)), round(y + off * np.sin(a))), round(nr), NUCLEUS, -1, cv2.LINE_AA)

    if blur_rbc > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur_rbc * d)
    if hue_shift_deg or saturation != 1.0 or brightness != 1.0:
        img = _shift_stain(img, hue_shift_deg, saturation, brightness)
    if noise_sigma > 0:
        img = np.clip(img + rng.normal(0, noise_sigma, img.shape), 0, 255).astype(np.uint8)
    centres = [(x, y) for x, y, _ in wbc_specs]
    return SyntheticSmear(img, d, masks, centres, pairs)
