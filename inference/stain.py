"""Reinhard stain normalisation in numpy/OpenCV: match a smear's LAB mean and std to a reference.

Statistics are measured on the whole smear (or a large crop) and then applied to each cell crop from it,
so a cell's own colour differences (dark blast nucleus vs pale lymphocyte) survive: per-crop normalisation
would erase exactly what the classifier needs.
"""

from __future__ import annotations

import cv2
import numpy as np

# A reference in OpenCV's 8-bit LAB (L, a, b each 0..255), filled in from the training smears at training
# time and stored with the checkpoint; this default is only used when a checkpoint carries none.
DEFAULT_TARGET = {"mean": [190.0, 140.0, 118.0], "std": [35.0, 10.0, 10.0]}


def lab_stats(rgb: np.ndarray, *, max_pixels: int = 250_000) -> dict[str, list[float]]:
    """Mean and std of each LAB channel of an (H, W, 3) uint8 RGB image (subsampled for speed)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"want (H, W, 3) uint8 RGB, got {rgb.shape} {rgb.dtype}")
    step = max(1, int(np.sqrt(rgb.shape[0] * rgb.shape[1] / max_pixels)))
    lab = cv2.cvtColor(np.ascontiguousarray(rgb[::step, ::step]), cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float64)
    return {"mean": lab.mean(0).tolist(), "std": np.maximum(lab.std(0), 1e-3).tolist()}


def reinhard(rgb: np.ndarray, source: dict, target: dict | None = None) -> np.ndarray:
    """Shift and scale each LAB channel of ``rgb`` from ``source`` stats to ``target`` stats; returns uint8 RGB."""
    target = target or DEFAULT_TARGET
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    sm, ss = np.asarray(source["mean"], np.float32), np.asarray(source["std"], np.float32)
    tm, ts = np.asarray(target["mean"], np.float32), np.asarray(target["std"], np.float32)
    lab = (lab - sm) * (ts / ss) + tm
    return cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
