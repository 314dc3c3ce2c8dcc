"""Reads of the review: the case's cells with their labels, the counts that follow the review, report versions.

Lab isolation: the reads of a case's cells and report take the caller's ``Scope`` (and find nothing outside it); the
audit reads take the user, since they need a role (pathologist or lab admin) in the lab.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet
from django.utils import dateformat, timezone

from alllab.accounts.models import ADMIN_ROLES, REVIEW_ROLES, Membership
from alllab.accounts.scope import Scope, scope_role_lab_ids
from alllab.analysis.models import AnalysisRun, Cell
from alllab.analysis.selectors import current_runs_for_case
from alllab.analysis.summaries import Summary, labels_summary, summary_read
from alllab.cases.models import Case
from alllab.review.models import (
    MIN_REVIEWED_WHITE_CELLS,
    WHITE_CELL_LABELS,
    AuditEvent,
    CellReview,
    ReportVersion,
    ReviewLabel,
)
from alllab.review.result import SignedResult, signed_result_from_snapshot

AnyUser = User | AnonymousUser

# Lab admins and pathologists read a case's audit trail; technicians do not.
AUDIT_ROLES = frozenset(REVIEW_ROLES | ADMIN_ROLES)
SUSPICIOUS_CELLS_IN_REPORT = 24  # one PDF page of crops


def user_can_view_audit(*, scope: Scope, user: AnyUser, lab_id: int) -> bool:
    """Whether ``user`` may read the audit trail of ``lab_id``'s cases (a lab of ``scope``; pathologists and lab
    admins)."""
    return lab_id in scope_role_lab_ids(scope=scope, user=user, roles=AUDIT_ROLES)


def format_when(iso: str | None) -> str:
    """A snapshot's ISO timestamp as ``2026-11-29 21:38 UTC`` in the site's time zone; empty for none."""
    if not iso:
        return ""
    return dateformat.format(timezone.localtime(datetime.fromisoformat(iso)), "Y-m-d H:i T")


def display_name(user: User | None) -> str:
    """A user's full name when set, else the username; empty for none."""
    if user is None:
        return ""
    return (user.get_full_name() or "").strip() or user.get_username()


def review_cells(*, scope: Scope, case: Case) -> QuerySet[Cell]:
    """Every cell of the finished current run of each slide of ``case``, most likely blast first, with its review."""
    done = [r.id for r in current_runs_for_case(scope=scope, case=case) if r.status == AnalysisRun.Status.DONE]
    return (
        Cell.objects.filter(run_id__in=done)
        .select_related("run", "run__slide", "review", "review__reviewed_by")
        .order_by("-p_blast", "run__slide_id", "index")
    )


def _review_of(cell: Cell) -> CellReview | None:
    try:
        return cell.review
    except CellReview.DoesNotExist:
        return None


def review_label_of(cell: Cell) -> str | None:
    """The reviewer's class of a cell, None while unreviewed (the model's label is never a reviewer's class)."""
    review = _review_of(cell)
    return review.label if review is not None else None


@dataclass(frozen=True)
class ReviewCounts:
    """What the review page, the snapshot and the PDF show: the reviewed differential, the AI's pre-classification
    beside it, and the reviewed summary."""

    n_cells: int  # cells of the current runs
    n_reviewed: int  # of those, with a reviewer's label
    n_white_reviewed: int  # reviewed as a white cell of the differential: its denominator
    differential: list[dict]  # per reviewer class: label, display, white, reviewed, reviewed_pct (of white cells)
    ai: list[dict]  # per model label (blast, non-blast): label, display, n, pct (of every cell)
    reviewed_summary: Summary  # labels_summary over the reviewed white cells
    below_minimum: bool  # fewer than MIN_REVIEWED_WHITE_CELLS white cells reviewed
    min_cells: int = MIN_REVIEWED_WHITE_CELLS

    @property
    def n_unreviewed(self) -> int:
        return self.n_cells - self.n_reviewed

    def to_json(self) -> dict:
        return {
            "n_cells": self.n_cells,
            "n_reviewed": self.n_reviewed,
            "n_unreviewed": self.n_unreviewed,
            "n_white_reviewed": self.n_white_reviewed,
            "differential": self.differential,
            "ai": self.ai,
            "reviewed_summary": self.reviewed_summary.to_json(),
            "below_minimum": self.below_minimum,
            "min_cells": self.min_cells,
        }


def _pct(n: int, total: int) -> float | None:
    return round(100.0 * n / total, 2) if total else None


def review_counts(*, scope: Scope, case: Case, cells: list[Cell] | None = None) -> ReviewCounts:
    """The counts that follow the review, over the cells of the case's current runs.

    The reviewed differential counts the reviewer's class of each reviewed cell; its percentages are of the white
    cells reviewed, and smudge cells or artefacts and unsure cells are counted but never part of a percentage or of
    the blast fraction. The AI's pre-classification counts the model's label (blast or non-blast) of every cell.
    """
    cells = list(review_cells(scope=scope, case=case)) if cells is None else cells
    ai = Counter(c.ai_label for c in cells)
    reviewed = Counter(r.label for r in (_review_of(c) for c in cells) if r is not None)
    n_white = sum(reviewed[label] for label in WHITE_CELL_LABELS)
    differential = [
        {
            "label": label,
            "display": ReviewLabel(label).label,
            "white": label in WHITE_CELL_LABELS,
            "reviewed": reviewed[label],
            "reviewed_pct": _pct(reviewed[label], n_white) if label in WHITE_CELL_LABELS else None,
        }
        for label in ReviewLabel.values
    ]
    ai_rows = [
        {"label": label, "display": display, "n": ai[label], "pct": _pct(ai[label], len(cells))}
        for label, display in Cell.Label.choices
    ]
    return ReviewCounts(
        n_cells=len(cells),
        n_reviewed=sum(reviewed.values()),
        n_white_reviewed=n_white,
        differential=differential,
        ai=ai_rows,
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


def report_snapshot(*, scope: Scope, case: Case) -> dict:
    """Everything a report says about ``case`` now, as JSON: what a sign-off freezes and a preliminary PDF shows."""
    cells = list(review_cells(scope=scope, case=case))
    counts = review_counts(scope=scope, case=case, cells=cells)
    runs = {r.slide_id: r for r in current_runs_for_case(scope=scope, case=case)}
    slides = []
    for slide in case.slides.order_by("uploaded_at", "id"):
        run = runs.get(slide.id)
        run_summary = summary_read(obj=run) if run else None
        slides.append(
            {
                "id": slide.id,
                "filename": slide.original_filename,
                "status": run.status if run else "none",
                "run_id": run.id if run else None,
                "model_name": run.model_name if run else "",
                "model_version": run.model_version if run else "",
                "model_sha256": run.model_sha256 if run else "",
                "lab_model": model_identity(run)["lab_model"] if run else None,
                "n_cells": run_summary.n_cells if run_summary else None,
            }
        )
    models = sorted({(s["model_name"], s["model_version"], s["model_sha256"]) for s in slides if s["status"] == "done"})
    ai_summary = summary_read(obj=case)
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
        "models": [{"name": n, "version": v, "sha256": h} for n, v, h in models],
        "ai_summary": ai_summary.to_json() if ai_summary is not None else None,
        "counts": counts.to_json(),
        "reviewers": reviewers(cells=cells),
        "suspicious_cells": [
            {
                "id": c.id,
                "slide": c.run.slide.original_filename,
                "p_blast": round(c.p_blast, 4),
                "ai_label": c.ai_label,
                "review_label": review_label_of(c),
            }
            for c in suspicious
        ],
    }


def model_identity(run: AnalysisRun) -> dict:
    """Which model made a run: name, version, sha256 of the weights, and the lab's registry row if any."""
    lab_model = None
    row = run.lab_model if run.lab_model_id is not None else None  # no query for a run without a registry row
    if row is not None:
        lab_model = {"id": row.pk, "kind": row.kind, "version": row.version, "status": row.status}
    return {
        "name": run.model_name,
        "version": run.model_version,
        "sha256": run.model_sha256,
        "lab_model": lab_model,
    }


def signed_result_get(*, case: Case) -> SignedResult | None:
    """The latest signed version's reviewed result, as frozen at sign-off; None before sign-off."""
    latest = report_latest(case=case)
    return signed_result_from_snapshot(latest.snapshot) if latest is not None else None


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
    summary = Summary.from_json(counts["reviewed_summary"])
    lo, hi = summary.blast_fraction_ci95
    parts = [snap["interpretation"]["display"] + "."]
    if snap["interpretation"]["text"]:
        parts.append(snap["interpretation"]["text"].rstrip(".") + ".")
    parts.append(
        f"Reviewed differential: blasts {summary.n_blast} of {counts['n_white_reviewed']} white cells "
        f"({100 * summary.blast_fraction:.2f}%, 95% CI {100 * lo:.2f}-{100 * hi:.2f}%)."
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


def audit_for_case(*, scope: Scope, user: AnyUser, case: Case) -> QuerySet[AuditEvent]:
    """A case's audit trail, newest first, for pathologists and lab admins of its lab in ``scope`` (none otherwise)."""
    if not user_can_view_audit(scope=scope, user=user, lab_id=case.lab_id):
        return AuditEvent.objects.none()
    return AuditEvent.objects.filter(case_id=case.id).select_related("actor")


SESSION_ACTIONS = (AuditEvent.Action.LOGIN, AuditEvent.Action.LOGOUT, AuditEvent.Action.LOGIN_FAILED)


def audit_for_labs(*, scope: Scope, user: AnyUser) -> QuerySet[AuditEvent]:
    """The trail of the labs of ``scope`` that ``user`` administers, newest first: their cases' and exports' events,
    and the sign-ins and sign-outs of their members (a sign-in has no lab, so it is found through the member)."""
    labs = scope_role_lab_ids(scope=scope, user=user, roles=ADMIN_ROLES)
    if not labs:
        return AuditEvent.objects.none()
    members = Membership.objects.filter(lab_id__in=labs).values("user_id")
    return AuditEvent.objects.filter(
        Q(lab_id__in=labs) | Q(action__in=SESSION_ACTIONS, actor_id__in=members)
    ).select_related("actor", "case")
