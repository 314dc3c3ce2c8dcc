"""Binary classification metrics (positive class = blast), written out so every figure is checkable by hand."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from ..operating import LEGACY_OPERATING_POINT


def confusion(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[int, int, int, int]:
    """(tp, fp, tn, fn) for 0/1 labels and predictions."""
    t = np.asarray(y_true, dtype=int)
    p = np.asarray(y_pred, dtype=int)
    if t.shape != p.shape:
        raise ValueError(f"labels {t.shape} and predictions {p.shape} differ in shape")
    tp = int(((t == 1) & (p == 1)).sum())
    fp = int(((t == 0) & (p == 1)).sum())
    tn = int(((t == 0) & (p == 0)).sum())
    fn = int(((t == 1) & (p == 0)).sum())
    return tp, fp, tn, fn


def _div(a: float, b: float) -> float:
    return a / b if b else 0.0


def auroc(y_true: ArrayLike, scores: ArrayLike) -> float:
    """Area under the ROC curve (Mann-Whitney U with tied ranks averaged); NaN when one class is absent."""
    t = np.asarray(y_true, dtype=int)
    s = np.asarray(scores, dtype=float)
    n_pos, n_neg = int((t == 1).sum()), int((t == 0).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=float)
    sorted_s = s[order]
    i = 0
    while i < len(s):  # average ranks over ties
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    u = ranks[t == 1].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def binary_metrics(
    y_true: ArrayLike, p: ArrayLike, *, threshold: float = LEGACY_OPERATING_POINT.cell_threshold
) -> dict[str, float]:
    """accuracy, precision, recall, specificity, f1, mcc at ``p >= threshold``, and auroc of ``p``.

    The default is the legacy threshold (what the 0.3.0 rows were measured at); pass a checkpoint's
    ``operating_point.cell_threshold`` to measure at its operating point."""
    t = np.asarray(y_true, dtype=int)
    s = np.asarray(p, dtype=float)
    tp, fp, tn, fn = confusion(t, (s >= threshold).astype(int))
    precision = _div(tp, tp + fp)
    recall = _div(tp, tp + fn)
    denom = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return {
        "n": int(len(t)),
        "accuracy": _div(tp + tn, len(t)),
        "precision": precision,
        "recall": recall,
        "specificity": _div(tn, tn + fp),
        "f1": _div(2 * precision * recall, precision + recall),
        "mcc": _div(tp * tn - fp * fn, denom),
        "auroc": auroc(t, s),
    }


def mean_std(rows: list[dict[str, float]], keys: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per-key mean and sample standard deviation (ddof=1) across folds."""
    out = {}
    for k in keys:
        v = np.array([r[k] for r in rows], dtype=float)
        out[k] = {"mean": float(np.nanmean(v)), "std": float(np.nanstd(v, ddof=1)) if len(v) > 1 else 0.0}
    return out
