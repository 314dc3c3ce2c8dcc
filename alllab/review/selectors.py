"""Reads of the review: the case's cells with their labels, the counts that follow the review, report versions.

Lab isolation: every entry point that takes a user goes through ``case_get`` or ``lab_ids_for_user``; the functions
taking only a ``case`` expect one the caller has already fetched that way.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet
from django.utils import dateformat, timezone

from alllab.accounts.models import ADMIN_ROLES, REVIEW_ROLES, Membership
from alllab.accounts.selectors import lab_ids_for_user
from alllab.analysis.models import AnalysisRun, Cell
from alllab.analysis.selectors import current_runs_for_case
from alllab.analysis.summaries import labels_summary
from alllab.cases.models import Case
from alllab.review.models import (
    MIN_REVIEWED_WHITE_CELLS,
    WHITE_CELL_LABELS,
    AuditEvent,
    CellReview,
    ReportVersion,
    ReviewLabel,
)

AnyUser = AbstractBaseUser | AnonymousUser

# Lab admins and pathologists read a case's audit trail; technicians do not.
AUDIT_ROLES = frozenset(REVIEW_ROLES | ADMIN_ROLES)
SUSPICIOUS_CELLS_IN_REPORT = 24  # one PDF page of crops


def user_can_view_audit(*, user: AnyUser, lab_id: int) -> bool:
    """Whether ``user`` may read the audit trail of ``lab_id``'s cases (pathologists and lab admins)."""
    return lab_id in lab_ids_for_user(user=user, roles=AUDIT_ROLES)


def format_when(iso: str | None) -> str:
    """A snapshot's ISO timestamp as ``2026-11-29 21:38 UTC`` in the site's time zone; empty for none."""
    if not iso:
        return ""
    return dateformat.format(timezone.localtime(datetime.fromisoformat(iso)), "Y-m-d H:i T")


def display_name(user: AbstractBaseUser | None) -> str:
    """A user's full name when set, else the username; empty for none."""
    if user is None:
        return ""
    return (user.get_full_name() or "").strip() or user.get_username()


def review_cells(*, case: Case) -> QuerySet[Cell]:
    """Every cell of the finished current run of each slide of ``case``, most likely blast first, with its review."""
    done = [r.id for r in current_runs_for_case(case=case) if r.status == AnalysisRun.Status.DONE]
    return (
        Cell.objects.filter(run_id__in=done)
        .select_related("run", "run__slide", "review", "review__reviewed_by")
        .order_by("-p_blast", "run__slide_id", "index")
    )


def cell_label(cell: Cell) -> str:
    """The label a cell stands at: the reviewer's when reviewed, else the model's."""
    review = getattr(cell, "review", None)
    return review.label if review is not None else cell.ai_label


def _review_of(cell: Cell) -> CellReview | None:
    try:
        return cell.review
    except CellReview.DoesNotExist:
        return None


def gallery_groups(*, cells: list[Cell]) -> list[dict]:
    """Cells grouped by the label they stand at (review order of the classes), each group most likely blast first."""
    by_label: dict[str, list[Cell]] = {label: [] for label in ReviewLabel.values}
    for cell in cells:
        by_label[cell_label(cell)].append(cell)
    return [
        {"label": label, "display": ReviewLabel(label).label, "cells": by_label[label]}
        for label in ReviewLabel.values
        if by_label[label]
    ]


@dataclass(frozen=True)
class ReviewCounts:
    """What the review page, the snapshot and the PDF show: AI and reviewed differential and the reviewed summary."""

    n_cells: int  # cells of the current runs
    n_reviewed: int  # of those, with a reviewer's label
    n_white_reviewed: int  # reviewed as blast, normal or other white cell: the differential's denominator
    differential: list[dict]  # per class: label, display, ai, ai_pct, reviewed, reviewed_pct
    reviewed_summary: dict  # labels_summary over the reviewed white cells
    below_minimum: bool  # fewer than MIN_REVIEWED_WHITE_CELLS white cells reviewed
    min_cells: int = MIN_REVIEWED_WHITE_CELLS

    def to_json(self) -> dict:
        return {
            "n_cells": self.n_cells,
            "n_reviewed": self.n_reviewed,
            "n_white_reviewed": self.n_white_reviewed,
            "differential": self.differential,
            "reviewed_summary": self.reviewed_summary,
            "below_minimum": self.below_minimum,
            "min_cells": self.min_cells,
        }


def _pct(n: int, total: int) -> float | None:
    return round(100.0 * n / total, 2) if total else None


def review_counts(*, case: Case, cells: list[Cell] | None = None) -> ReviewCounts:
    """The counts that follow the review, over the cells of the case's current runs.

    The AI column counts the model's label of every cell (it knows only blast and normal); the reviewed column
    counts the reviewer's label of the reviewed cells. Percentages are of the column's white cells; artefacts and
    unsure cells are counted but never part of a percentage or of the blast fraction.
    """
    cells = list(review_cells(case=case)) if cells is None else cells
    ai = Counter(c.ai_label for c in cells)
    reviewed = Counter(r.label for r in (_review_of(c) for c in cells) if r is not None)
    n_white = sum(reviewed[label] for label in WHITE_CELL_LABELS)
    differential = []
    for label in ReviewLabel.values:
        white = label in WHITE_CELL_LABELS
        differential.append(
            {
                "label": label,
                "display": ReviewLabel(label).label,
                "white": white,
                "ai": ai.get(label, 0),
                "ai_pct": _pct(ai.get(label, 0), len(cells)),
                "reviewed": reviewed[label],
                "reviewed_pct": _pct(reviewed[label], n_white) if white else None,
            }
        )
    return ReviewCounts(
        n_cells=len(cells),
        n_reviewed=sum(reviewed.values()),
        n_white_reviewed=n_white,
        differential=differential,
        reviewed_summary=labels_summary(n_blast=reviewed[ReviewLabel.BLAST], n_white=n_white),
        below_minimum=n_white < MIN_REVIEWED_WHITE_CELLS,
    )


def reviewers(*, cells: list[Cell]) -> list[dict]:
    """Who reviewed the case's cells: name, number of cells, last time, most cells first."""
    seen: dict[int, dict] = {}
    for cell in cells:
        review = _review_of(cell)
        if review is None:
            continue
        entry = seen.setdefault(
            review.reviewed_by_id, {"name": display_name(review.reviewed_by), "n_cells": 0, "last_at": None}
        )
        entry["n_cells"] += 1
        at = review.reviewed_at.isoformat()
        entry["last_at"] = max(entry["last_at"] or at, at)
    return sorted(seen.values(), key=lambda e: (-e["n_cells"], e["name"]))


def report_snapshot(*, case: Case) -> dict:
    """Everything a report says about ``case`` now, as JSON: what a sign-off freezes and a preliminary PDF shows."""
    cells = list(review_cells(case=case))
    counts = review_counts(case=case, cells=cells)
    runs = {r.slide_id: r for r in current_runs_for_case(case=case)}
    slides = []
    for slide in case.slides.order_by("uploaded_at", "id"):
        run = runs.get(slide.id)
        slides.append(
            {
                "id": slide.id,
                "filename": slide.original_filename,
                "status": run.status if run else "none",
                "run_id": run.id if run else None,
                "model_name": run.model_name if run else "",
                "model_version": run.model_version if run else "",
                "n_cells": run.n_cells if run else None,
            }
        )
    models = sorted({(s["model_name"], s["model_version"]) for s in slides if s["status"] == "done"})
    suspicious = cells[:SUSPICIOUS_CELLS_IN_REPORT]  # review_cells is most likely blast first
    return {
        "case": {
            "id": case.id,
            "lab": case.lab.name,
            "lab_slug": case.lab.slug,
            "accession_number": case.accession_number,
            "patient_id": case.patient_pseudonym,
            "specimen_date": case.specimen_date.isoformat() if case.specimen_date else None,
        },
        "slides": slides,
        "models": [{"name": n, "version": v} for n, v in models],
        "ai_summary": {
            "n_cells": case.n_cells,
            "n_blast": case.n_blast,
            "blast_fraction": case.blast_fraction,
            "blast_fraction_ci95": [case.blast_fraction_ci95_lo, case.blast_fraction_ci95_hi],
            "max_p_blast": case.max_p_blast,
            "call": case.call,
        },
        "counts": counts.to_json(),
        "reviewers": reviewers(cells=cells),
        "suspicious_cells": [
            {
                "id": c.id,
                "slide": c.run.slide.original_filename,
                "p_blast": round(c.p_blast, 4),
                "ai_label": c.ai_label,
                "review_label": cell_label(c) if _review_of(c) else None,
            }
            for c in suspicious
        ],
    }


def report_versions(*, case: Case) -> QuerySet[ReportVersion]:
    """A case's signed versions, oldest first."""
    return ReportVersion.objects.filter(case=case).select_related("signed_by").order_by("number")


def report_latest(*, case: Case) -> ReportVersion | None:
    """The case's latest signed version, or None before sign-off."""
    return ReportVersion.objects.filter(case=case).select_related("signed_by").order_by("-number").first()


def report_status(*, case: Case) -> str:
    """``preliminary`` before sign-off, ``final`` once signed, ``amended`` once a signed report has been amended."""
    latest = report_latest(case=case)
    if latest is None:
        # A case marked signed off without a version (signed before the review app existed) still reads final.
        return "final" if case.status == Case.Status.SIGNED_OFF else "preliminary"
    return latest.kind


def report_conclusion(*, case: Case) -> str:
    """The signed interpretation as one paragraph for FHIR and HL7; empty before sign-off."""
    latest = report_latest(case=case)
    if latest is None:
        return ""
    snap = latest.snapshot
    counts = snap["counts"]
    summary = counts["reviewed_summary"]
    lo, hi = summary["blast_fraction_ci95"]
    parts = [snap["interpretation"]["display"] + "."]
    if snap["interpretation"]["text"]:
        parts.append(snap["interpretation"]["text"].rstrip(".") + ".")
    parts.append(
        f"Reviewed differential: blasts {summary['n_blast']} of {counts['n_white_reviewed']} white cells "
        f"({100 * summary['blast_fraction']:.2f}%, 95% CI {100 * lo:.2f}-{100 * hi:.2f}%)."
    )
    if counts["below_minimum"]:
        parts.append(f"Fewer than {counts['min_cells']} white cells reviewed.")
    if latest.kind == ReportVersion.Kind.AMENDED:
        parts.append(f"Amended (version {latest.number}): {latest.amendment_reason}")
    parts.append(f"Signed by {snap['signed_by']} at {format_when(snap['signed_at'])}.")
    return " ".join(parts)


def reclassifications_since(*, case: Case, version: ReportVersion | None) -> int:
    """Cell reclassifications recorded after ``version`` was signed: changes an amendment would report."""
    if version is None:
        return 0
    return AuditEvent.objects.filter(case=case, action=AuditEvent.Action.RECLASSIFY, at__gt=version.signed_at).count()


def audit_for_case(*, user: AnyUser, case: Case) -> QuerySet[AuditEvent]:
    """A case's audit trail, newest first, for pathologists and lab admins of its lab (none for anyone else)."""
    if not user_can_view_audit(user=user, lab_id=case.lab_id):
        return AuditEvent.objects.none()
    return AuditEvent.objects.filter(case_id=case.id).select_related("actor")


SESSION_ACTIONS = (AuditEvent.Action.LOGIN, AuditEvent.Action.LOGOUT, AuditEvent.Action.LOGIN_FAILED)


def audit_for_labs(*, user: AnyUser) -> QuerySet[AuditEvent]:
    """The trail of the labs ``user`` administers, newest first: their cases' and exports' events, and the sign-ins
    and sign-outs of their members (a sign-in has no lab, so it is found through the member)."""
    labs = lab_ids_for_user(user=user, roles=ADMIN_ROLES)
    if not labs:
        return AuditEvent.objects.none()
    members = Membership.objects.filter(lab_id__in=labs).values("user_id")
    return AuditEvent.objects.filter(
        Q(lab_id__in=labs) | Q(action__in=SESSION_ACTIONS, actor_id__in=members)
    ).select_related("actor", "case")
