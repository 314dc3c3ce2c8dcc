"""Slide-level summary: blast fraction with a Wilson 95% interval, and the screening call.

Computed here, once, and stored by the worker: pages, PDF, FHIR and HL7 read the stored numbers. The cell
threshold and the slide rule come from the checkpoint's operating point (``inference.operating``); the
call's words for people come from ``CALL_TEXT``, the one place they live.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .domain import DomainResult
from .operating import LEGACY_OPERATING_POINT, OperatingPoint
from .types import CALLS, Quality, Summary

# Segmentation flags a field with fewer white cells than this ``too_few_cells``: information, not a block. The call
# has no field-size rule: a small field (a 224 px phone patch of 1-3 cells) shows what it shows (a blast makes it
# suspicious), and whether "negative" can be said is the count rule below, which a case meets by summing its slides.
MIN_CELLS = 3
# "Negative" needs at least this many readable white cells (slide or case). With 0 blasts among n cells, the upper 95%
# bound on the blast fraction is about 3/n (the rule of three; the Wilson bound is 3.84/(n+3.84)): 3.7% at 100 cells,
# 56% at 3. Below it, a field or case without blasts is "insufficient", stated with its count.
NEGATIVE_MIN_CELLS = 100
# Flags that make a field unreadable for a call; other flags are reported but do not block.
BLOCKING_FLAGS = frozenset({"out_of_focus", "stain_out_of_range"})


# call -> (label, explanation): what every page, report, FHIR and HL7 message says about a call.
CALL_TEXT: dict[str, tuple[str, str]] = {
    "suspicious": (
        "Suspicious",
        "At least the operating point's number of cells scored as blasts: a haematologist should review this smear.",
    ),
    "negative": (
        "Negative",
        f"No cell scored as a blast at the operating point among at least {NEGATIVE_MIN_CELLS} white cells, on images "
        "the model was validated on.",
    ),
    "insufficient": (
        "Insufficient",
        f"Fewer than {NEGATIVE_MIN_CELLS} readable white cells without a blast, or a focus or stain problem: too few "
        "for a negative (a case sums its slides' cells).",
    ),
    "unvalidated": (
        "Unvalidated",
        "These images are unlike those the model was validated on (stain, resolution, focus or cell appearance): "
        "no negative call is possible; review every cell.",
    ),
}
assert set(CALL_TEXT) == set(CALLS)  # one vocabulary


def call_label(call: str) -> str:
    """The human label of a call (``"Unvalidated"``)."""
    return CALL_TEXT[call][0]


def call_explanation(call: str) -> str:
    """One sentence saying what a call means."""
    return CALL_TEXT[call][1]


def domain_flags(domain: DomainResult | None) -> tuple[str, ...]:
    """Summary flags for an out-of-domain smear: ``out_of_domain`` and one ``domain_<reason>`` per reason."""
    if domain is None or domain.in_domain:
        return ()
    return ("out_of_domain", *(f"domain_{r}" for r in domain.reasons))


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


def _call(*, n: int, suspicious: bool, blocked: bool, out_of_domain: bool) -> str:
    """The one rule for a slide and a case.

    In order: nothing readable is ``insufficient``; enough blasts on validated images is ``suspicious`` (a positive
    finding stands even beside an out-of-domain slide); otherwise any out-of-domain image makes it ``unvalidated``;
    fewer than ``NEGATIVE_MIN_CELLS`` cells is ``insufficient``; only then ``negative``.
    """
    if blocked or n == 0:
        return "insufficient"
    if suspicious:
        return "suspicious"
    if out_of_domain:
        return "unvalidated"
    return "insufficient" if n < NEGATIVE_MIN_CELLS else "negative"


def summarize(
    p_blast: Sequence[float],
    quality: Quality | None = None,
    *,
    operating_point: OperatingPoint = LEGACY_OPERATING_POINT,
    domain: DomainResult | None = None,
    flags: Sequence[str] = (),
    model_version: str = "",
    touches_border: Sequence[bool] | None = None,
) -> Summary:
    """Summarise one slide (one field) from its cells' probabilities; a case is :func:`summarize_case`.

    Border rule: a lab counts whole cells only, so cells cut by the image border (``touches_border``) are left out
    of ``n_cells``, ``n_blast``, the blast fraction and its interval, and so of the call; ``max_p_blast`` still
    takes every cell, so a blast-like cell at the edge is not hidden (it is shown, marked, for review).

    Args:
        touches_border: per cell of ``p_blast``, whether it is cut by the image border
            (``CellRegion.touches_border``); None counts every cell.
        operating_point: the checkpoint's cell threshold and slide rule (``Predictor.operating_point``).
        domain: the smear's domain check; out of domain, the call is ``"unvalidated"``, never ``"negative"``
            (an unreadable field stays ``"insufficient"``). The numbers are still reported.
        flags: stands in for ``quality.flags`` where there is no ``Quality`` (a flag ``out_of_domain`` there makes
            the call unvalidated too).
        model_version: recorded on the summary.
    """
    cut = operating_point.cell_threshold
    if touches_border is not None and len(touches_border) != len(p_blast):
        raise ValueError(f"touches_border has {len(touches_border)} entries for {len(p_blast)} cells")
    counted = [p for i, p in enumerate(p_blast) if touches_border is None or not touches_border[i]]
    n = len(counted)
    k = sum(1 for p in counted if p >= cut)
    flags = (tuple(quality.flags) if quality is not None else tuple(flags)) + domain_flags(domain)
    out_of_domain = "out_of_domain" in flags
    call = _call(
        n=n,
        # An out-of-domain field's scores are not trusted for a call, either way.
        suspicious=not out_of_domain and k >= operating_point.min_blasts,
        blocked=bool(BLOCKING_FLAGS.intersection(flags)),
        out_of_domain=out_of_domain,
    )
    return Summary(
        n_cells=n,
        n_blast=k,
        blast_fraction=(k / n) if n else 0.0,
        blast_fraction_ci95=wilson_interval(k, n),
        max_p_blast=max(p_blast, default=0.0),
        call=call,
        flags=flags,
        model_version=model_version,
    )


# A slide's flags that say nothing about the case as a whole (the case states its own count).
_SLIDE_ONLY_FLAGS = frozenset({"too_few_cells"})


def summarize_case(
    slides: Sequence[Summary],
    *,
    operating_point: OperatingPoint = LEGACY_OPERATING_POINT,
    model_version: str = "",
) -> Summary:
    """Summarise a case from its slides' summaries: their cells are summed, and one rule makes the call.

    A slide with a blocking flag (focus, stain) is unreadable: its cells are left out of the case's numbers and call,
    and its flags are carried to the case. The readable slides' counts are summed, so several small fields (a phone
    adapter's 224 px patches of 1-3 cells each) reach ``NEGATIVE_MIN_CELLS`` together, while one or two fields of a
    few cells stay ``insufficient``. A slide out of domain (flag ``out_of_domain`` or call ``unvalidated``) makes the
    case ``unvalidated`` unless blasts on the other, validated slides make it ``suspicious``.

    Args:
        slides: each finished slide's stored summary (counts at that slide's operating point, its call and flags).
        operating_point: its ``min_blasts`` is applied to the summed blasts of the validated slides.
        model_version: recorded on the summary ("" when the slides used several models).
    """
    readable = [s for s in slides if not BLOCKING_FLAGS.intersection(s.flags)]

    def unvalidated(s: Summary) -> bool:
        return s.call == "unvalidated" or "out_of_domain" in s.flags

    n = sum(s.n_cells for s in readable)
    k = sum(s.n_blast for s in readable)
    flags = dict.fromkeys(f for s in slides for f in s.flags if f not in _SLIDE_ONLY_FLAGS)  # ordered, no repeats
    validated = [s for s in readable if not unvalidated(s)]
    call = _call(
        n=n,
        # a validated slide called suspicious at its own operating point, or blasts summed over validated slides
        suspicious=any(s.call == "suspicious" for s in validated)
        or sum(s.n_blast for s in validated) >= operating_point.min_blasts,
        blocked=not readable,
        out_of_domain=len(validated) < len(readable),
    )
    return Summary(
        n_cells=n,
        n_blast=k,
        blast_fraction=(k / n) if n else 0.0,
        blast_fraction_ci95=wilson_interval(k, n),
        max_p_blast=max((s.max_p_blast for s in readable), default=0.0),
        call=call,
        flags=tuple(flags),
        model_version=model_version,
    )


def call_statement(summary: Summary) -> str:
    """The call in a sentence with its count, e.g. "Insufficient: no blast among 3 white cells (upper 95% bound 56%);
    a negative needs at least 100"."""
    s = summary
    upper = f"{100 * s.blast_fraction_ci95[1]:.0f}%"
    cells = f"{s.n_cells} white cell{'s' if s.n_cells != 1 else ''}"
    if s.call == "negative":
        return f"Negative: no blast among {cells} (upper 95% bound {upper})."
    if s.call == "suspicious":
        return f"Suspicious: {s.n_blast} of {cells} scored as blasts."
    if s.call == "unvalidated":
        return f"Unvalidated: images unlike those the model was validated on ({cells}); review every cell."
    blocking = sorted(BLOCKING_FLAGS.intersection(s.flags))
    if s.n_cells == 0 or (blocking and s.n_cells < NEGATIVE_MIN_CELLS and not s.n_blast):
        reason = ", ".join(f.replace("_", " ") for f in blocking) or "no readable white cell"
        return f"Insufficient: {reason}; {cells} counted."
    return (
        f"Insufficient: {s.n_blast} blast{'s' if s.n_blast != 1 else ''} among {cells} (upper 95% bound {upper}); "
        f"a negative needs at least {NEGATIVE_MIN_CELLS}."
    )
