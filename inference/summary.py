"""Slide-level summary: blast fraction with a Wilson 95% interval, and the screening call.

Computed here, once, and stored by the worker: pages, PDF, FHIR and HL7 read the stored numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .types import Quality, Summary

BLAST_THRESHOLD = 0.5  # a cell counts as a blast at calibrated p >= this
MIN_CELLS = 3  # fewer white cells than this on a field and we do not make a call
SUSPICIOUS_MIN_BLASTS = 1  # one confident blast on a smear is worth a human look
# Flags that make a field unreadable for a call; other flags are reported but do not block.
BLOCKING_FLAGS = frozenset({"out_of_focus", "stain_out_of_range"})


def wilson_interval(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials; (0, 1) when n is 0."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # Clamp so floating point never puts the point estimate outside its own interval (k = n gave 0.999...).
    return (max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half)))


def summarize(
    p_blast: Sequence[float], quality: Quality | None = None, *, threshold: float = BLAST_THRESHOLD
) -> Summary:
    """Summarise a slide (or a case: pass every cell of every slide) from its cells' probabilities."""
    n = len(p_blast)
    k = sum(1 for p in p_blast if p >= threshold)
    blocked = quality is not None and bool(BLOCKING_FLAGS.intersection(quality.flags))
    if n < MIN_CELLS or blocked:
        call = "suspicious" if k >= SUSPICIOUS_MIN_BLASTS and not blocked else "insufficient"
    else:
        call = "suspicious" if k >= SUSPICIOUS_MIN_BLASTS else "negative"
    return Summary(
        n_cells=n,
        n_blast=k,
        blast_fraction=(k / n) if n else 0.0,
        blast_fraction_ci95=wilson_interval(k, n),
        max_p_blast=max(p_blast, default=0.0),
        call=call,
    )
