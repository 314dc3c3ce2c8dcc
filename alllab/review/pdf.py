"""A case's report as PDF (WeasyPrint): the latest signed version as frozen, or the live preliminary numbers.

The page is rendered from the same snapshot a sign-off freezes, so the PDF of a signed case says exactly what was
signed. Crops are embedded as data URIs read through the storage backend (no file paths, works with S3 too).
"""

from __future__ import annotations

import base64
import logging

from django.template.loader import render_to_string
from django.utils import timezone

from alllab.accounts.scope import Scope
from alllab.analysis.models import Cell
from alllab.analysis.summaries import Summary, call_explanation, call_label, fraction_withheld
from alllab.cases.models import Case
from alllab.review.models import ReportVersion, ReviewLabel
from alllab.review.selectors import format_when, report_latest, report_snapshot

# WeasyPrint logs every layout step at INFO; one report is not eleven log lines.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)


def _crop_uri(cell: Cell | None) -> str:
    if cell is None or not cell.crop:
        return ""
    try:
        with cell.crop.open("rb") as fh:
            data = fh.read()
    except (FileNotFoundError, OSError):
        return ""  # the PDF still renders; the crop shows as missing
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def report_context(*, scope: Scope, case: Case) -> dict:
    """The template context of a case's report: the snapshot (frozen or live) and its crops."""
    version: ReportVersion | None = report_latest(case=case)
    snap = version.snapshot if version is not None else report_snapshot(scope=scope, case=case)
    ids = [c["id"] for c in snap["suspicious_cells"]]
    cells = Cell.objects.in_bulk(ids)
    labels = dict(ReviewLabel.choices)
    crops = [
        {
            **c,
            "uri": _crop_uri(cells.get(c["id"])),
            "review_display": labels.get(c["review_label"] or "", "not reviewed"),
        }
        for c in snap["suspicious_cells"]
    ]
    summary = Summary.from_json(snap["counts"]["reviewed_summary"])
    ai = Summary.from_json(snap["ai_summary"]) if snap.get("ai_summary") else None
    return {
        "ai_call_label": call_label(ai.call) if ai else "",
        "ai_call_text": call_explanation(ai.call) if ai else "",
        "ai_withheld": fraction_withheld(n_cells=ai.n_cells, call=ai.call, flags=ai.flags) if ai else True,
        "reviewed_withheld": fraction_withheld(n_cells=snap["counts"]["n_white_reviewed"]),
        "snap": snap,
        "version": version,
        "status": version.kind if version is not None else "preliminary",
        "crops": crops,
        "signed_at": format_when(snap.get("signed_at")),
        "reviewers": [{**r, "last_at": format_when(r["last_at"])} for r in snap["reviewers"]],
        "reviewed_pct": 100.0 * summary.blast_fraction,
        "reviewed_ci_pct": [100.0 * x for x in summary.blast_fraction_ci95],
        "generated_at": timezone.now(),
    }


def report_pdf(*, scope: Scope, case: Case) -> bytes:
    """Render ``case``'s report to PDF bytes; take ``case`` from a selector that checked the lab."""
    import weasyprint  # imported here: only the report needs it, and it loads pango on import

    html = render_to_string("review/report_pdf.html", report_context(scope=scope, case=case))
    return weasyprint.HTML(string=html, base_url=None).write_pdf()
