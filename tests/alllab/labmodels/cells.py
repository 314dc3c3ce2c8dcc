"""Tiny synthetic white-cell crops for the adaptation tests: blasts have a large, round, dark nucleus."""

from __future__ import annotations

import cv2
import numpy as np


def cell_crop(*, blast: bool, seed: int, size: int = 96) -> np.ndarray:
    """A (size, size, 3) uint8 RGB crop of one white cell on a pink background."""
    rng = np.random.default_rng(seed)
    img = np.full((size, size, 3), (236, 214, 222), np.uint8)
    c = size // 2 + int(rng.integers(-3, 4))
    cv2.circle(img, (c, c), int(size * 0.33), (200, 170, 205), -1)
    if blast:
        cv2.circle(img, (c, c), int(size * 0.27), (70, 30, 120), -1)
    else:
        for k in range(3):  # a lobed, smaller nucleus
            cv2.circle(img, (c - 10 + 10 * k, c + (k % 2) * 6), int(size * 0.08), (110, 60, 150), -1)
    noise = rng.normal(0, 4, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)
