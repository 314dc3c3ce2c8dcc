"""The one door to the engine's summary: its type, its thresholds, and the conversion to and from stored columns.

Only ``alllab.analysis`` imports ``inference``, so the apps above it (review, interop, api, dashboard) take
``Summary``, the thresholds and ``summarize`` from here. A case and a run store a summary as the columns of
``alllab.cases.summary_fields.SummaryFields``; :func:`summary_columns` writes them and :func:`summary_read` reads them
back as the engine's ``inference.types.Summary``, so nothing else builds a summary by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alllab.cases.summary_fields import SummaryFields
from inference.summary import (
    BLOCKING_FLAGS,
    CALL_TEXT,
    MIN_CELLS,
    NEGATIVE_MIN_CELLS,
    call_explanation,
    call_label,
    call_statement,
    summarize,
    summarize_case,
    wilson_interval,
)
from inference.types import CALLS, Summary

__all__ = [
    "CALLS",
    "CALL_TEXT",
    "MIN_CELLS",
    "NEGATIVE_MIN_CELLS",
    "Summary",
    "call_explanation",
    "call_label",
    "call_statement",
    "fraction_withheld",
    "labels_summary",
    "summarize",
    "summarize_case",
    "summary_columns",
    "summary_read",
]


def summary_read(*, obj: SummaryFields, extra_flags: Sequence[str] = ()) -> Summary | None:
    """The summary stored on a case or a run, as the engine's type; None while there is none.

    A row always stores both interval bounds with its counts; should one be missing (a row written by hand), the
    interval is recomputed from the counts with the engine's own Wilson interval rather than invented.
    ``extra_flags`` are added to the stored ones (a run's quality flags, which older rows stored only there).
    """
    if obj.n_cells is None or not obj.call:
        return None
    n_blast = obj.n_blast or 0
    fraction = obj.blast_fraction if obj.blast_fraction is not None else (n_blast / obj.n_cells if obj.n_cells else 0.0)
    lo, hi = obj.blast_fraction_ci95_lo, obj.blast_fraction_ci95_hi
    interval = (lo, hi) if lo is not None and hi is not None else wilson_interval(n_blast, obj.n_cells)
    return Summary(
        n_cells=obj.n_cells,
        n_blast=n_blast,
        blast_fraction=fraction,
        blast_fraction_ci95=interval,
        max_p_blast=obj.max_p_blast or 0.0,
        call=obj.call,
        flags=tuple(dict.fromkeys([*(obj.flags or ()), *extra_flags])),
        model_version=obj.model_version,
    )


def summary_columns(*, summary: Summary | None) -> dict[str, Any]:
    """The ``SummaryFields`` column values for ``summary`` (for ``.update(**...)``); None clears them.

    ``model_version`` is left out when clearing: on a run it also names the model the worker loaded.
    """
    if summary is None:
        return {
            "n_cells": None,
            "n_blast": None,
            "blast_fraction": None,
            "blast_fraction_ci95_lo": None,
            "blast_fraction_ci95_hi": None,
            "max_p_blast": None,
            "call": "",
            "flags": [],
        }
    return {
        "n_cells": summary.n_cells,
        "n_blast": summary.n_blast,
        "blast_fraction": summary.blast_fraction,
        "blast_fraction_ci95_lo": summary.blast_fraction_ci95[0],
        "blast_fraction_ci95_hi": summary.blast_fraction_ci95[1],
        "max_p_blast": summary.max_p_blast,
        "call": summary.call,
        "flags": list(summary.flags),
        "model_version": summary.model_version,
    }


def labels_summary(*, n_blast: int, n_white: int) -> Summary:
    """``summarize`` over ``n_white`` labelled white cells of which ``n_blast`` are blasts.

    Each labelled cell enters as probability 1.0 (blast) or 0.0 (not a blast), so the threshold plays no part: the
    review app counts a pathologist's labels, and still gets the fraction, its interval and the call from the engine.

    Raises:
        ValueError: a negative count, or more blasts than white cells.
    """
    if n_blast < 0 or n_white < 0 or n_blast > n_white:
        raise ValueError(f"need 0 <= n_blast <= n_white, got n_blast={n_blast}, n_white={n_white}")
    return summarize([1.0] * n_blast + [0.0] * (n_white - n_blast))


def fraction_withheld(*, n_cells: int, call: str = "", flags: tuple[str, ...] | list[str] = ()) -> bool:
    """True when a blast fraction must not be reported as a number: fewer white cells than ``MIN_CELLS`` ("0 of 1"
    is not "0.00 %"), or an ``insufficient`` call on an unreadable image (a focus or stain flag)."""
    return n_cells < MIN_CELLS or (call == "insufficient" and bool(BLOCKING_FLAGS.intersection(flags)))
