"""A synthetic blood smear for the web tests: pink background, pale red cells, a few purple-nucleated white cells."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image


def smear_rgb(*, seed: int = 0, size: tuple[int, int] = (640, 480), n_white: int = 4) -> np.ndarray:
    """An (H, W, 3) uint8 RGB smear of ``size`` (width, height) with ``n_white`` white cells."""
    rng = np.random.default_rng(seed)
    width, height = size
    img = np.full((height, width, 3), (236, 214, 222), np.uint8)
    rbc_r = max(3, int(min(width, height) * 0.035))
    for _ in range(int(width * height / (rbc_r * rbc_r * 9))):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        cv2.circle(img, (x, y), rbc_r, (214, 150, 160), -1)
        cv2.circle(img, (x, y), rbc_r // 2, (226, 180, 188), -1)
    for i in range(n_white):
        x = int((i + 0.5) * width / n_white)
        y = int(rng.integers(height // 4, 3 * height // 4))
        cv2.circle(img, (x, y), int(rbc_r * 1.9), (200, 170, 205), -1)  # cytoplasm
        cv2.ellipse(img, (x, y), (int(rbc_r * 1.4), int(rbc_r * 1.1)), 30 * i, 0, 360, (92, 40, 130), -1)  # nucleus
    img = cv2.GaussianBlur(img, (3, 3), 0)
    noise = rng.normal(0, 3, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def smear_png(*, seed: int = 0, size: tuple[int, int] = (640, 480), n_white: int = 4) -> bytes:
    """:func:`smear_rgb` encoded as PNG bytes."""
    buf = io.BytesIO()
    Image.fromarray(smear_rgb(seed=seed, size=size, n_white=n_white)).save(buf, format="PNG")
    return buf.getvalue()
