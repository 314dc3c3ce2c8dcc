"""The door through which other apps reach ``inference.summary`` (only ``alllab.analysis`` imports ``inference``).

The review app counts a pathologist's labels rather than the model's probabilities; it still takes the blast
fraction, its Wilson interval and the call from ``summarize``, so a reviewed result is computed like an automated one.
"""

from __future__ import annotations

from inference.summary import MIN_CELLS, summarize

__all__ = ["MIN_CELLS", "labels_summary"]


def labels_summary(*, n_blast: int, n_white: int) -> dict:
    """``summarize`` over ``n_white`` labelled white cells of which ``n_blast`` are blasts.

    Each labelled cell enters as probability 1.0 (blast) or 0.0 (not a blast), so the threshold plays no part.

    Returns:
        The ``Summary.to_json()`` keys, unrounded: n_cells, n_blast, blast_fraction, blast_fraction_ci95 (a
        two-item list), max_p_blast and call.

    Raises:
        ValueError: a negative count, or more blasts than white cells.
    """
    if n_blast < 0 or n_white < 0 or n_blast > n_white:
        raise ValueError(f"need 0 <= n_blast <= n_white, got n_blast={n_blast}, n_white={n_white}")
    s = summarize([1.0] * n_blast + [0.0] * (n_white - n_blast))
    return {
        "n_cells": s.n_cells,
        "n_blast": s.n_blast,
        "blast_fraction": s.blast_fraction,
        "blast_fraction_ci95": list(s.blast_fraction_ci95),
        "max_p_blast": s.max_p_blast,
        "call": s.call,
    }
