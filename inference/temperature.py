"""Calibrated probabilities from logits: ``sigmoid(logit / T)`` with the checkpoint's temperature.

Fitting T (on validation logits only) is the workshop's job: ``inference.training.calibrate``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


def apply_temperature(logits: Sequence[float] | np.ndarray, temperature: float) -> np.ndarray:
    """Calibrated probabilities ``sigmoid(logit / T)`` in [0, 1]."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    return sigmoid(np.asarray(logits, dtype=np.float64) / temperature)
