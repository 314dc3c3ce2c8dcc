"""Test-time augmentation and the by-smear AUROC interval of the ensemble measurement (no datasets needed)."""

import numpy as np
import torch

from inference.training.data import CellDataset, CellSample
from inference.training.ensemble import auroc_interval, logits
from inference.training.metrics import auroc

PREP = {"input_size": 8, "mean": [0.5] * 3, "std": [0.25] * 3, "stain": None}


class LeftBright(torch.nn.Module):
    """A logit that is not flip-invariant: mean of the left half minus the right half."""

    def forward(self, x):
        w = x.shape[-1] // 2
        return x[..., :w].mean((1, 2, 3)) - x[..., w:].mean((1, 2, 3))


def _dataset():
    crop = np.zeros((8, 8, 3), np.uint8)
    crop[:, :4] = 200  # bright on the left
    return CellDataset([CellSample(crop, 1, "g", "s", None)], PREP, augment=None)


def test_tta_averages_the_four_flips():
    ds = _dataset()
    plain = logits(LeftBright(), ds, tta=False)
    both = logits(LeftBright(), ds, tta=True)
    assert plain[0] > 1.0  # bright left half
    # identity and vertical flip keep it, horizontal flips negate it: the mean of the four is 0
    assert abs(both[0]) < 1e-6


def test_the_auroc_interval_brackets_the_estimate_and_moves_smears_together():
    rng = np.random.default_rng(0)
    smears = np.repeat(np.arange(20), 10).astype(str)
    y = (np.arange(200) % 2).astype(int)
    p = np.clip(y * 0.3 + rng.normal(0.35, 0.2, 200), 0, 1)
    lo, hi = auroc_interval(y, p, smears, n=300)
    assert lo < auroc(y, p) < hi and hi - lo < 0.3
    assert auroc_interval(y, y.astype(float), smears, n=50) == [1.0, 1.0]
