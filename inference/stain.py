"""Reinhard stain normalisation in numpy/OpenCV: match a smear's LAB statistics to a reference.

Statistics are measured on the whole smear (or a large crop) and then applied to each cell crop from it,
so a cell's own colour differences (dark blast nucleus vs pale lymphocyte) survive: per-crop normalisation
would erase exactly what the classifier needs.

Two ways, named by the target's ``"statistic"`` (checkpoints before it have none and mean "moments"):

* ``moments``: shift and scale each LAB channel so the smear's mean and standard deviation become the target's
  (Reinhard's original).
* ``median``: shift each LAB channel so the smear's median becomes the target's; no scaling. The moments of a
  whole smear depend on what is on it: a smear crowded with violet blasts has about three times the chroma
  spread (b channel) of a healthy donor's, whose background and red cells fill nearly every pixel
  (docs/results/transfer.md, seventh pass). Matching the moments then stretches a healthy smear's chroma two to
  three times, and its white cells turn a saturated blue that no ALL smear's cells have: the normalisation
  itself tells the classifier the diagnosis. The median is the background's and the red cells', which cover
  most of any smear, so it measures the stain and the camera, not the disease. A robust spread (MAD) is not
  used: on smears that are mostly empty background it is a few grey levels and quantised, and dividing by it
  turned some smears' cells nearly black.
"""

from __future__ import annotations

import cv2
import numpy as np

# A reference in OpenCV's 8-bit LAB (L, a, b each 0..255), filled in from the training smears at training
# time and stored with the checkpoint; this default is only used when a checkpoint carries none.
DEFAULT_TARGET: dict = {"mean": [190.0, 140.0, 118.0], "std": [35.0, 10.0, 10.0]}
STATISTICS = ("moments", "median")


def lab_stats(rgb: np.ndarray, *, max_pixels: int = 250_000) -> dict[str, list[float]]:
    """Mean, std and median of each LAB channel of an (H, W, 3) uint8 RGB image (subsampled for speed)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"want (H, W, 3) uint8 RGB, got {rgb.shape} {rgb.dtype}")
    step = max(1, int(np.sqrt(rgb.shape[0] * rgb.shape[1] / max_pixels)))
    return pixel_stats(cv2.cvtColor(np.ascontiguousarray(rgb[::step, ::step]), cv2.COLOR_RGB2LAB).reshape(-1, 3))


def pixel_stats(lab: np.ndarray) -> dict[str, list[float]]:
    """Mean, std and median of each channel of (N, 3) uint8 LAB pixels (OpenCV's 8-bit LAB)."""
    if lab.ndim != 2 or lab.shape[1] != 3 or lab.dtype != np.uint8 or not len(lab):
        raise ValueError(f"want (N, 3) uint8 LAB pixels, N > 0, got {lab.shape} {lab.dtype}")
    # 8-bit LAB holds integers 0..255: each median comes from the channel's histogram (exact, fast)
    median = [_histogram_median(np.bincount(lab[:, c], minlength=256)) for c in range(3)]
    values = lab.astype(np.float64)
    return {"mean": values.mean(0).tolist(), "std": np.maximum(values.std(0), 1e-3).tolist(), "median": median}


def _histogram_median(counts: np.ndarray) -> float:
    """The median of the integers 0..len-1 counted by ``counts`` (the lower one of an even count's middle two)."""
    return float(np.searchsorted(np.cumsum(counts), (counts.sum() + 1) / 2))


def statistic_of(target: dict) -> str:
    """How a stain target matches a smear: ``moments`` (also every target that does not say) or ``median``."""
    statistic = str(target.get("statistic", "moments"))
    if statistic not in STATISTICS:
        raise ValueError(f"unknown stain statistic {statistic!r}; known: {STATISTICS}")
    return statistic


def smear_location(stats: dict, statistic: str) -> list[float]:
    """The smear's per-channel location the target matches: its mean, or its median."""
    if statistic == "median":
        if "median" not in stats:
            raise ValueError(
                "this stain target matches medians, but the smear's statistics have none: "
                "recompute them with inference.stain.lab_stats"
            )
        return stats["median"]
    return stats["mean"]


def target_of(stats: list[dict], statistic: str) -> dict:
    """The target that puts smears with these statistics, on average, where they are: their mean statistics."""
    if statistic == "median":
        return {
            "median": np.mean([smear_location(s, statistic) for s in stats], axis=0).tolist(),
            "statistic": statistic,
        }
    return {
        "mean": np.mean([s["mean"] for s in stats], axis=0).tolist(),
        "std": np.mean([s["std"] for s in stats], axis=0).tolist(),
    }


def reinhard(rgb: np.ndarray, source: dict, target: dict | None = None) -> np.ndarray:
    """Move each LAB channel of ``rgb`` from the smear's ``source`` stats to ``target`` (module docstring: by
    mean and std, or by median alone); returns uint8 RGB."""
    target = target or DEFAULT_TARGET
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    if statistic_of(target) == "median":
        lab += np.asarray(target["median"], np.float32) - np.asarray(smear_location(source, "median"), np.float32)
    else:
        sm, ss = np.asarray(source["mean"], np.float32), np.asarray(source["std"], np.float32)
        tm, ts = np.asarray(target["mean"], np.float32), np.asarray(target["std"], np.float32)
        lab = (lab - sm) * (ts / ss) + tm
    return cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
