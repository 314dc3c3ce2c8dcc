"""Choose the operating point on validation data: the cell threshold and the slide rule a checkpoint stores.

A screening aid should miss few leukaemias, so the cell threshold is the *highest* one whose cell
sensitivity on the validation cells is at least ``target_sensitivity`` (default 0.95): the best specificity
that sensitivity allows. The slide rule ("suspicious when at least ``min_blasts`` cells are at or above the
threshold") is then chosen on the validation smears, using every cell found on them: among the candidate
counts whose smear sensitivity reaches the same target, the one with the best smear specificity (ties: the
smaller count, the more sensitive rule). Nothing here may see a test fold; ``chosen_on`` says what it saw.

The result is an ``inference.operating.OperatingPoint``; ``inference.summary`` applies it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from ..operating import LEGACY_OPERATING_POINT, OperatingPoint

TARGET_SENSITIVITY = 0.95
MIN_BLASTS_CANDIDATES = (1, 2, 3, 4, 5)


def cell_threshold_for_sensitivity(
    y: ArrayLike, p: ArrayLike, *, target: float = TARGET_SENSITIVITY
) -> tuple[float, float, float]:
    """The highest threshold t with sensitivity(p >= t) >= ``target`` on labelled cells.

    Returns:
        (threshold, sensitivity, specificity) measured at ``t`` on the same cells.

    Raises:
        ValueError: no positive cell, mismatched lengths, or a target outside (0, 1].
    """
    labels = np.asarray(y, int)
    scores = np.asarray(p, np.float64)
    if len(labels) != len(scores):
        raise ValueError(f"{len(labels)} labels for {len(scores)} scores")
    if not 0 < target <= 1:
        raise ValueError(f"target sensitivity must be in (0, 1], got {target}")
    pos = np.sort(scores[labels == 1])[::-1]  # highest first
    if len(pos) == 0:
        raise ValueError("no positive (blast) cell: cannot choose a threshold for a sensitivity")
    need = math.ceil(target * len(pos) - 1e-9)  # this many positives must be at or above t
    t = float(pos[need - 1])
    sens = float((pos >= t).mean())
    neg = scores[labels == 0]
    spec = float((neg < t).mean()) if len(neg) else float("nan")
    return t, sens, spec


def smear_rates(
    smear_p: Mapping[str, Sequence[float]], smear_y: Mapping[str, int], *, threshold: float, min_blasts: int
) -> tuple[float, float]:
    """(sensitivity, specificity) over smears of the rule "at least ``min_blasts`` cells with p >= threshold"."""
    calls = {s: int(sum(1 for v in smear_p.get(s, ()) if v >= threshold) >= min_blasts) for s in smear_y}
    pos = [calls[s] for s in smear_y if smear_y[s] == 1]
    neg = [calls[s] for s in smear_y if smear_y[s] == 0]
    sens = float(np.mean(pos)) if pos else float("nan")
    spec = float(1 - np.mean(neg)) if neg else float("nan")
    return sens, spec


def choose_min_blasts(
    smear_p: Mapping[str, Sequence[float]],
    smear_y: Mapping[str, int],
    *,
    threshold: float,
    target: float = TARGET_SENSITIVITY,
    candidates: Sequence[int] = MIN_BLASTS_CANDIDATES,
) -> tuple[int, float, float]:
    """The slide rule's count on validation smears: (min_blasts, smear sensitivity, smear specificity).

    Among ``candidates`` whose smear sensitivity reaches ``target``, the best specificity, ties to the smaller
    count; when none reaches it (or there is no ALL smear), the smallest count: screening errs towards review.
    """
    rates = {k: smear_rates(smear_p, smear_y, threshold=threshold, min_blasts=k) for k in candidates}
    ok = [k for k in candidates if not math.isnan(rates[k][0]) and rates[k][0] >= target - 1e-9]
    if not ok:
        k = min(candidates)
        return k, *rates[k]
    k = max(ok, key=lambda k: (-1.0 if math.isnan(rates[k][1]) else rates[k][1], -k))
    return k, *rates[k]


def choose_operating_point(
    cell_y: ArrayLike,
    cell_p: ArrayLike,
    *,
    smear_p: Mapping[str, Sequence[float]] | None = None,
    smear_y: Mapping[str, int] | None = None,
    target: float = TARGET_SENSITIVITY,
    chosen_on: str,
) -> OperatingPoint:
    """The operating point from validation cells (threshold) and, when given, validation smears (slide rule).

    Args:
        cell_y, cell_p: labels (1 = blast) and calibrated p(blast) of the validation cells.
        smear_p: every cell's p on each validation smear (smear -> list); smear_y: smear -> 1 (ALL) / 0.
        chosen_on: what the data were, stored with the point (e.g. "validation split of ..., 120 cells").

    Without a blast among the validation cells there is no sensitivity to choose by: the legacy point.
    """
    if not np.any(np.asarray(cell_y) == 1):
        return LEGACY_OPERATING_POINT
    t, sens, spec = cell_threshold_for_sensitivity(cell_y, cell_p, target=target)
    k = 1
    note = chosen_on
    if smear_p is not None and smear_y:
        k, s_sens, s_spec = choose_min_blasts(smear_p, smear_y, threshold=t, target=target)
        note += f"; slide rule on {len(smear_y)} validation smears (smear sensitivity {s_sens:.3f}, specificity {s_spec:.3f})"
    return OperatingPoint(
        cell_threshold=t,
        min_blasts=int(k),
        target_sensitivity=float(target),
        val_sensitivity=round(sens, 4),
        val_specificity=round(spec, 4),
        chosen_on=note,
    )
