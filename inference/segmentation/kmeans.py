"""Pixel clustering: plain K-means (the ablation baseline) and the seed paper's modified K-means.

Plain K-means clusters the HSV-cone features of every pixel into background, red cells and white cells
with k-means++ starts and keeps every connected component of the "white cell" cluster.

The modified K-means follows the paper's idea, "cluster centres re-estimated under colour and morphological
constraints", made concrete:

1. Four clusters (background, red cell, cytoplasm, nucleus) start from colour priors instead of random
   seeds: background = brightest grey pixels, nucleus = the most blue-violet dark pixels, red cell = the most
   pink pixels, cytoplasm halfway between nucleus and background. Priors keep cluster identities fixed, so
   no post-hoc guessing which cluster is which, and K-means cannot spend a cluster on a stain gradient.
2. Lloyd iterations on a pixel sample, then every pixel goes to its nearest centre.
3. Colour constraint: the nucleus centre must be bluer than the red-cell centre; otherwise the field has
   no white cell at all and the nucleus cluster is empty.
4. Morphological constraint: nucleus components (lobes merged by a closing of 0.15 red-cell diameters)
   are accepted only if their area is at least ``MIN_NUCLEUS_RBC_AREAS`` red-cell areas and their
   solidity at least ``MIN_SOLIDITY``; rejected pixels (platelets, stain debris, dark red-cell overlaps)
   are re-assigned to their second-nearest cluster.
5. Centres are re-estimated from accepted pixels only and steps 2-4 repeat until the accepted set is
   stable (at most ``CONSTRAINED_ROUNDS``). Platelets and debris therefore stop dragging the nucleus centre
   towards red cells, which is what makes the final nucleus boundary tight.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .colour import NUCLEUS_HUE_DEG, RBC_HUE_DEG, centre_hue_deg, hue_axis, hue_distance_deg, nucleus_score

BACKGROUND, RBC, CYTOPLASM, NUCLEUS = 0, 1, 2, 3
SAMPLE_PIXELS = 40_000
LLOYD_ITERATIONS = 12
CONSTRAINED_ROUNDS = 3
MIN_NUCLEUS_RBC_AREAS = 0.22  # platelets are ~0.1 red-cell areas, the smallest lymphocyte nucleus ~0.6
MIN_SOLIDITY = 0.55
LOBE_MERGE_RBC = 0.15  # closing radius, in red-cell diameters, that joins the lobes of one nucleus
MAX_NUCLEUS_HUE_OFF_DEG = 70.0  # how far the nucleus centre's hue may sit from blue-violet


@dataclass(frozen=True)
class Clustering:
    """Per-pixel cluster labels at working resolution and the accepted white-cell nucleus mask."""

    labels: np.ndarray  # (H, W) uint8 cluster index
    centres: np.ndarray  # (K, 3) float32
    nucleus: np.ndarray  # (H, W) bool, accepted nucleus pixels (lobes not yet merged)
    has_white_cells: bool


def disc(radius: float) -> np.ndarray:
    """A disc-shaped structuring element of the given radius in pixels (at least 3x3)."""
    r = max(1, int(round(radius)))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill the holes of a bool mask (flood the background from the border; what it cannot reach is a hole).

    Same result as ``scipy.ndimage.binary_fill_holes`` with 4-connected background, several times faster.
    """
    padded = np.pad(mask.astype(np.uint8), 1)
    flood = padded.copy()
    cv2.floodFill(flood, None, (0, 0), 2, flags=4)
    return (flood != 2)[1:-1, 1:-1]


def _sample(flat: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if flat.shape[0] <= SAMPLE_PIXELS:
        return flat
    return flat[rng.integers(0, flat.shape[0], SAMPLE_PIXELS)]  # with replacement: much faster, same use


def assign(flat: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest and second-nearest centre of every feature row.

    Ranks ``|c|^2 - 2 x.c``, the squared distance less the row's own ``|x|^2`` (the same for every centre, so the
    ranking is unchanged): one (N, 3) x (3, K) product instead of K passes over the pixels.
    """
    c = np.asarray(centres, np.float32)
    d = flat.astype(np.float32, copy=False) @ (-2.0 * c.T)
    d += (c * c).sum(axis=1)
    nearest = d.argmin(axis=1)
    d[np.arange(len(d)), nearest] = np.inf
    return nearest.astype(np.uint8), d.argmin(axis=1).astype(np.uint8)


def _nearest(flat: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Nearest centre of every row (the ranking of ``assign``)."""
    c = np.asarray(centres, np.float32)
    return (flat.astype(np.float32, copy=False) @ (-2.0 * c.T) + (c * c).sum(axis=1)).argmin(axis=1)


def _lloyd(sample: np.ndarray, centres: np.ndarray) -> np.ndarray:
    centres = centres.copy()
    for _ in range(LLOYD_ITERATIONS):
        nearest = _nearest(sample, centres)
        moved = 0.0
        for k in range(len(centres)):
            members = sample[nearest == k]
            if len(members):
                new = members.mean(axis=0)
                moved = max(moved, float(np.abs(new - centres[k]).max()))
                centres[k] = new
        if moved < 1e-3:
            break
    return centres


def prior_centres(flat: np.ndarray) -> np.ndarray:
    """Starting centres from colour priors (background, red cell, cytoplasm, nucleus) of a pixel sample."""
    chroma = np.hypot(flat[:, 0], flat[:, 1])
    value = flat[:, 2]
    bg_score = value - chroma
    bg = flat[bg_score >= np.quantile(bg_score, 0.8)].mean(axis=0)
    nuc_score = nucleus_score(flat)
    nucleus = flat[nuc_score >= np.quantile(nuc_score, 0.995)].mean(axis=0)
    rbc_score = flat[:, :2] @ hue_axis(RBC_HUE_DEG)
    rbc = flat[rbc_score >= np.quantile(rbc_score, 0.7)].mean(axis=0)
    cytoplasm = 0.5 * (nucleus + bg)
    return np.stack([bg, rbc, cytoplasm, nucleus]).astype(np.float32)


def nucleus_colour_ok(centres: np.ndarray) -> bool:
    """Colour constraint: the nucleus cluster is blue-violet and bluer and darker than red cells."""
    nuc, rbc = centres[NUCLEUS], centres[RBC]
    if hue_distance_deg(centre_hue_deg(nuc), NUCLEUS_HUE_DEG) > MAX_NUCLEUS_HUE_OFF_DEG:
        return False
    margin = float(nucleus_score(nuc[None])[0] - nucleus_score(rbc[None])[0])
    return margin > 0.3


def accept_components(mask: np.ndarray, rbc_px: float, *, min_rbc_areas: float = MIN_NUCLEUS_RBC_AREAS) -> np.ndarray:
    """Morphological constraint: keep nucleus components big and solid enough, relative to red-cell size."""
    merged = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, disc(LOBE_MERGE_RBC * rbc_px))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(merged, connectivity=8)
    rbc_area = np.pi * (rbc_px / 2.0) ** 2
    keep = np.zeros(n, bool)
    for i in range(1, n):
        x, y, w, h, area = stats[i]
        if area < min_rbc_areas * rbc_area:
            continue
        comp = (labels[y : y + h, x : x + w] == i).astype(np.uint8)
        contours, _ = cv2.findContours(comp, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        hull = cv2.contourArea(cv2.convexHull(max(contours, key=cv2.contourArea)))
        keep[i] = hull > 0 and area / hull >= MIN_SOLIDITY
    return keep[labels] & mask


def modified_kmeans(
    features: np.ndarray, rbc_px: float, *, seed: int = 0, min_nucleus_rbc_areas: float = MIN_NUCLEUS_RBC_AREAS
) -> Clustering:
    """The paper's modified K-means at working resolution (see the module docstring)."""
    h, w, _ = features.shape
    flat = features.reshape(-1, 3)
    rng = np.random.default_rng(seed)
    sample = _sample(flat, rng)
    centres = _lloyd(sample, prior_centres(sample))
    accepted = np.zeros((h, w), bool)
    nearest = np.zeros(h * w, np.uint8)
    for _ in range(CONSTRAINED_ROUNDS):
        nearest, second = assign(flat, centres)
        if not nucleus_colour_ok(centres):
            nearest[nearest == NUCLEUS] = np.where(
                second[nearest == NUCLEUS] == NUCLEUS, RBC, second[nearest == NUCLEUS]
            )
            return Clustering(nearest.reshape(h, w), centres, np.zeros((h, w), bool), False)
        candidate = (nearest == NUCLEUS).reshape(h, w)
        new_accepted = accept_components(candidate, rbc_px, min_rbc_areas=min_nucleus_rbc_areas)
        rejected = (candidate & ~new_accepted).ravel()
        nearest[rejected] = second[rejected]
        if np.array_equal(new_accepted, accepted):
            break
        accepted = new_accepted
        for k in range(len(centres)):
            # Indices, not copies of the member rows: the same draw as sampling the rows, without copying the
            # background's 200k+ rows first.
            idx = np.flatnonzero(nearest == k) if k != NUCLEUS else np.flatnonzero(accepted.ravel())
            if len(idx):
                centres[k] = flat[_sample(idx, rng)].mean(axis=0)
    nearest = nearest.copy()
    nearest[(nearest == NUCLEUS) & ~accepted.ravel()] = CYTOPLASM
    nearest[accepted.ravel()] = NUCLEUS
    return Clustering(nearest.reshape(h, w), centres, accepted, bool(accepted.any()))


def plain_kmeans(features: np.ndarray, *, seed: int = 0) -> Clustering:
    """Plain K-means (k-means++, K=3) with no constraints: the ablation baseline."""
    h, w, _ = features.shape
    flat = features.reshape(-1, 3)
    rng = np.random.default_rng(seed)
    sample = _sample(flat, rng).astype(np.float32)
    cv2.setRNGSeed(seed)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, LLOYD_ITERATIONS, 1e-3)
    # OpenCV's stubs omit None for bestLabels, which its binding takes (no initial labels with KMEANS_PP_CENTERS).
    _, _, centres = cv2.kmeans(sample, 3, None, criteria, 3, cv2.KMEANS_PP_CENTERS)  # type: ignore[call-overload]
    nearest, _ = assign(flat, centres)
    wbc = int(np.argmax(nucleus_score(centres)))
    mask = (nearest == wbc).reshape(h, w)
    return Clustering(nearest.reshape(h, w), centres.astype(np.float32), mask, bool(mask.any()))
