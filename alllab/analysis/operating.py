"""The operating point for the pages: the cell threshold a run was called with, and the colour bands around it.

Pages never write a threshold of their own: they read the one the engine applied (stored on the run from the
checkpoint's ``Preprocessing``), or the engine's default for runs stored before it was recorded.
"""

from __future__ import annotations

from collections.abc import Iterable

from alllab.analysis.models import AnalysisRun
from inference.operating import LEGACY_OPERATING_POINT, OperatingPoint

# The display bands' outer edges: the low one at this fraction of the threshold, the high one this fraction of the way
# from the threshold to 1. At the legacy 0.5 they are the pages' old 0.3 and 0.8.
_BAND_REACH = 0.6


def run_operating_point(*, run: AnalysisRun | None) -> OperatingPoint:
    """The operating point ``run`` was called with; the legacy one for a run that did not record it."""
    stored = run.operating_point if run is not None else None
    return OperatingPoint.from_dict(stored) if stored else LEGACY_OPERATING_POINT


def runs_cell_threshold(*, runs: Iterable[AnalysisRun]) -> float | None:
    """The cell threshold shared by ``runs``; None when they were called at different ones (several models)."""
    thresholds = {run_operating_point(run=r).cell_threshold for r in runs}
    if not thresholds:
        return LEGACY_OPERATING_POINT.cell_threshold
    return thresholds.pop() if len(thresholds) == 1 else None


def p_bands(threshold: float) -> tuple[float, float, float]:
    """(low, threshold, high): the edges of the four colour bands of a probability."""
    return (threshold * _BAND_REACH, threshold, threshold + (1 - threshold) * _BAND_REACH)


def p_band(p: float, threshold: float) -> str:
    """The colour band of probability ``p``, shared by outlines, crop borders and the legend."""
    low, cut, high = p_bands(threshold)
    if p >= high:
        return "p-vhigh"
    if p >= cut:
        return "p-high"
    if p >= low:
        return "p-mid"
    return "p-low"
