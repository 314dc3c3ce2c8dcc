"""Template helpers for the result pages: the probability histogram as inline SVG, percentages."""

from __future__ import annotations

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

register = template.Library()

_W, _H, _PAD = 300, 120, 18  # viewBox size and room for the axis labels


@register.simple_tag
def p_histogram(counts: list[int], label: str = "Leukemic probability of each cell") -> SafeString:
    """An accessible SVG bar chart of ``counts`` over [0, 1]; bars at or above 0.5 are drawn as flagged."""
    bins = len(counts) or 1
    top = max(counts, default=0) or 1
    bar_w = (_W - 2) / bins
    bars = []
    for i, n in enumerate(counts):
        h = (_H - 2 * _PAD) * n / top
        lo, hi = i / bins, (i + 1) / bins
        css = "bar flagged" if lo >= 0.5 else "bar"
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
        '<text x="0" y="{ty}">0</text><text x="{mid}" y="{ty}" text-anchor="middle">0.5</text>'
        '<text x="{w}" y="{ty}" text-anchor="end">1</text>'
        '<text x="0" y="11">{top} max</text></svg>',
        w=_W,
        h=_H,
        label=label,
        total=total,
        base=_H - _PAD,
        rects=rects,
        ty=_H - 4,
        mid=_W / 2,
        top=top if total else 0,
    )


@register.filter
def percent(value: float | None, digits: int = 1) -> str:
    """0.1234 -> "12.3%"; blank for None."""
    if value is None:
        return ""
    return f"{100 * value:.{digits}f}%"
