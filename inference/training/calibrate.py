"""Temperature scaling (Guo et al., 2017) and expected calibration error.

One scalar T divides the logits; it is fitted on validation logits only (never test folds) by minimising
the negative log-likelihood over a log-spaced grid refined around the best point (no optimiser state to go wrong).

T is bounded to [0.5, 20]: on a small validation split the classes are often perfectly separated, and then
the likelihood keeps rising as T falls towards 0, which would turn every probability into 0 or 1. Temperature
scaling is there to temper overconfidence, not to manufacture it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..temperature import apply_temperature, sigmoid  # noqa: F401  (re-exported for the trainers)


def _nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    z = logits / temperature
    # log(1 + exp(-|z|)) form: stable BCE with logits
    return float(np.mean(np.maximum(z, 0) - z * labels + np.log1p(np.exp(-np.abs(z)))))


T_MIN, T_MAX = 0.5, 20.0


def fit_temperature(logits: ArrayLike, labels: ArrayLike) -> float:
    """The temperature in [T_MIN, T_MAX] that minimises validation NLL."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if len(z) == 0 or len(z) != len(y):
        raise ValueError("need equal, non-zero numbers of logits and labels")
    grid = np.exp(np.linspace(np.log(T_MIN), np.log(T_MAX), 200))
    best = min(grid, key=lambda t: _nll(z, y, t))
    fine = np.clip(np.exp(np.linspace(np.log(best) - 0.05, np.log(best) + 0.05, 51)), T_MIN, T_MAX)
    return float(min(fine, key=lambda t: _nll(z, y, t)))


def expected_calibration_error(p: ArrayLike, labels: ArrayLike, *, n_bins: int = 10) -> float:
    """ECE of the blast probability: bin-weighted |mean p - fraction positive| over equal-width bins."""
    prob = np.asarray(p, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if len(prob) == 0:
        return 0.0
    idx = np.minimum((prob * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        m = idx == b
        if m.any():
            ece += m.mean() * abs(prob[m].mean() - y[m].mean())
    return float(ece)
