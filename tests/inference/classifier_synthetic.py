"""Synthetic single cells and tiny checkpoints for the classifier tests: no dataset needed.

(The segmentation tests' smear generator lives in ``synthetic.py``.)
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from inference.models import save_checkpoint
from inference.models.hybrid_vgg import hybrid_vgg
from inference.training.data import CellSample

TINY_PREP = {"input_size": 32, "mean": [0.5] * 3, "std": [0.25] * 3, "stain": None}


def cell(label: int, rng: np.random.Generator, size: int = 48) -> np.ndarray:
    """A pink field with a violet disc: large and dark for a 'blast', small for a 'normal' cell."""
    img = np.full((size, size, 3), (225, 190, 200), np.uint8)
    r = int(size * (0.33 if label else 0.16) + rng.integers(-2, 3))
    c = (size // 2 + int(rng.integers(-3, 4)), size // 2 + int(rng.integers(-3, 4)))
    colour = (90, 40, 140) if label else (150, 110, 190)
    cv2.circle(img, c, r, colour, -1)
    noise = rng.integers(-8, 9, img.shape)
    return np.clip(img.astype(int) + noise, 0, 255).astype(np.uint8)


def samples(n: int, seed: int = 0) -> list[CellSample]:
    rng = np.random.default_rng(seed)
    return [CellSample(cell(i % 2, rng), i % 2, f"g{i}", f"synthetic/{i}") for i in range(n)]


def tiny_checkpoint(path: Path, *, temperature: float = 1.0, seed: int = 0, stain: dict | None = None) -> Path:
    torch.manual_seed(seed)
    model = hybrid_vgg(widths=(4, 8)).eval()
    save_checkpoint(
        path,
        model,
        config=model.cfg.to_dict(),
        preprocessing={**TINY_PREP, "stain": stain},
        class_names=["normal", "blast"],
        version="0.0.0-test",
        temperature=temperature,
    )
    return path
