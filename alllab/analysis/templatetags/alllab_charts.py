"""Template helpers for the result pages: a stored summary, the probability histogram as inline SVG, percentages."""

from __future__ import annotations

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from alllab.analysis.summaries import CALL_TEXT, Summary, call_explanation, call_label, call_statement, summary_read
from alllab.cases.summary_fields import SummaryFields

register = template.Library()

_W, _H, _PAD = 300, 120, 18  # viewBox size and room for the axis labels


@register.simple_tag
def p_histogram(
    counts: list[int], threshold: float | None = None, label: str = "Leukemic probability of each cell"
) -> SafeString:
    """An accessible SVG bar chart of ``counts`` over [0, 1]; bars at or above ``threshold`` are drawn as flagged.

    ``threshold`` is the cell threshold the runs were called with (``alllab.analysis.operating``); None (runs at
    different thresholds) flags no bar and marks no tick.
    """
    bins = len(counts) or 1
    top = max(counts, default=0) or 1
    bar_w = (_W - 2) / bins
    bars = []
    for i, n in enumerate(counts):
        h = (_H - 2 * _PAD) * n / top
        lo, hi = i / bins, (i + 1) / bins
        css = "bar flagged" if threshold is not None and lo >= threshold else "bar"
        bars.append(
            (
                css,
                f"{1 + i * bar_w:.1f}",
                f"{_H - _PAD - h:.1f}",
                f"{bar_w - 2:.1f}",
                f"{h:.1f}",
                n,
                f"{lo:.1f}",
                f"{hi:.1f}",
            )
        )
    rects = format_html_join(
        "",
        '<rect class="{}" x="{}" y="{}" width="{}" height="{}"><title>{} cells with p in [{}, {})</title></rect>',
        bars,
    )
    total = sum(counts)
    return format_html(
        '<svg class="histogram" viewBox="0 0 {w} {h}" role="img" aria-label="{label}: {total} cells">'
        '<line class="axis" x1="0" y1="{base}" x2="{w}" y2="{base}"></line>{rects}'
        '<text x="0" y="{ty}">0</text>{tick}'
        '<text x="{w}" y="{ty}" text-anchor="end">1</text>'
        '<text x="0" y="11">{top} max</text></svg>',
        w=_W,
        h=_H,
        label=label,
        total=total,
        base=_H - _PAD,
        rects=rects,
        ty=_H - 4,
        tick=_threshold_tick(threshold),
        top=top if total else 0,
    )


@register.filter
def percent(value: float | None, digits: int = 1) -> str:
    """0.1234 -> "12.3%"; blank for None."""
    if value is None:
        return ""
    return f"{100 * value:.{digits}f}%"


@register.filter
def summary(obj: SummaryFields | None) -> Summary | None:
    """``{% with s=case|summary %}``: the stored summary of a case or run, as the engine's type (None before one)."""
    return summary_read(obj=obj) if obj is not None else None


@register.filter
def statement(summary: Summary | None) -> str:
    """The call in a sentence with its count ("Insufficient: 0 blasts among 3 white cells ...")."""
    return call_statement(summary) if summary is not None else ""


def _threshold_tick(threshold: float | None) -> SafeString:
    if threshold is None:
        return format_html("")
    return format_html(
        '<text x="{}" y="{}" text-anchor="middle">{}</text>', f"{_W * threshold:.1f}", _H - 4, f"{threshold:.3g}"
    )


@register.simple_tag
def call_badge(call: str | None, size: str = "") -> SafeString:
    """``{% call_badge s.call %}``: the call's label as a badge, its explanation as the tooltip; "—" for none."""
    if not call or call not in CALL_TEXT:
        return mark_safe("—")  # a constant: nothing to escape (format_html without arguments is deprecated)
    return format_html(
        '<span class="badge call-{} {}" title="{}">{}</span>', call, size, call_explanation(call), call_label(call)
    )


@register.filter
def call_text(call: str | None) -> str:
    """``{{ s.call|call_text }}``: what the call means, in one sentence; blank for none."""
    return call_explanation(call) if call in CALL_TEXT else ""
