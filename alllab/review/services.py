"""Writes of the review: reclassify cells, sign off, amend, and record each in the audit trail.

Permission checks live here, not in the views, so the web page and any other caller share them: only a
pathologist of the case's lab may reclassify, sign or amend.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from alllab.accounts.selectors import user_can_review
from alllab.analysis.models import AnalysisRun
from alllab.analysis.selectors import current_runs_for_case
from alllab.cases.models import Case
from alllab.review.models import AuditEvent, CellReview, ReportVersion, ReviewLabel
from alllab.review.selectors import display_name, report_snapshot, review_cells
from alllab.review.signals import report_version_signed

MAX_CELLS_PER_CHANGE = 5000  # far more than a smear holds; stops a runaway request, not a real review


def audit_record(
    *,
    action: str,
    actor: AbstractBaseUser | None,
    case: Case | None = None,
    lab_id: int | None = None,
    object_type: str = "",
    object_id: object = "",
    detail: dict | None = None,
) -> AuditEvent:
    """Record one event with who and when (``actor`` None for the system or an anonymous caller)."""
    return AuditEvent.objects.create(**_event_fields(action, actor, case, lab_id, object_type, object_id, detail))


def _event_fields(action, actor, case, lab_id, object_type, object_id, detail) -> dict:
    if action not in AuditEvent.Action.values:
        raise ValueError(f"unknown audit action {action!r}")
    return {
        "at": timezone.now(),
        "actor": actor if actor is not None and actor.pk else None,
        "actor_name": actor.get_username() if actor is not None else "",
        "action": action,
        "case_id": case.pk if case is not None else None,
        "lab_id": case.lab_id if case is not None else lab_id,
        "object_type": object_type,
        "object_id": str(object_id),
        "detail": detail or {},
    }


def _require_reviewer(user: AbstractBaseUser, case: Case) -> None:
    if not user_can_review(user=user, lab=case.lab):
        raise PermissionDenied("Only a pathologist of this case's lab may review, sign or amend it.")


@transaction.atomic
def cell_reclassify(*, user: AbstractBaseUser, case: Case, cell_ids: list[int], label: str) -> list[CellReview]:
    """Give each of ``cell_ids`` (cells of ``case``'s current runs) the reviewer's ``label``; one audit event per change.

    A cell already at ``label`` by review is left alone (nothing changed, nothing recorded). Reclassifying after
    sign-off is allowed: the signed version stays as it was until a pathologist issues an amendment.

    Raises:
        PermissionDenied: ``user`` is not a pathologist of the case's lab.
        ValidationError: an unknown label, no cells, too many, or a cell that is not on this case's current runs.
    """
    _require_reviewer(user, case)
    if label not in ReviewLabel.values:
        raise ValidationError(f"Unknown label {label!r}; expected one of {', '.join(ReviewLabel.values)}.")
    wanted = list(dict.fromkeys(int(i) for i in cell_ids))
    if not wanted:
        raise ValidationError("No cells given.")
    if len(wanted) > MAX_CELLS_PER_CHANGE:
        raise ValidationError(f"At most {MAX_CELLS_PER_CHANGE} cells per change.")
    cells = {c.id: c for c in review_cells(case=case).filter(id__in=wanted)}
    missing = [i for i in wanted if i not in cells]
    if missing:
        raise ValidationError(f"Not cells of this case's current analyses: {', '.join(map(str, missing))}.")
    # One change per case at a time: two reviewers labelling the same new cell would otherwise both insert a review.
    Case.objects.select_for_update().filter(pk=case.pk).first()
    now = timezone.now()
    existing = {r.cell_id: r for r in CellReview.objects.filter(cell_id__in=wanted)}
    changed, events = [], []
    for cell_id in wanted:
        review = existing.get(cell_id)
        previous = review.label if review else None
        if previous == label:
            continue
        if review is None:
            review = CellReview(cell_id=cell_id, label=label, reviewed_by=user, reviewed_at=now)
        else:
            review.label, review.reviewed_by, review.reviewed_at = label, user, now
        review.save()
        changed.append(review)
        detail = {"from": previous, "to": label, "ai_label": cells[cell_id].ai_label, "bulk": len(wanted) > 1}
        events.append(AuditEvent(**_event_fields("reclassify", user, case, None, "cell", cell_id, detail)))
    AuditEvent.objects.bulk_create(events)
    return changed


def _require_analysis_finished(case: Case) -> None:
    runs = current_runs_for_case(case=case)
    if not any(r.status == AnalysisRun.Status.DONE for r in runs):
        raise ValidationError("No slide of this case has a finished analysis to report.")
    if any(r.status in (AnalysisRun.Status.QUEUED, AnalysisRun.Status.RUNNING) for r in runs):
        raise ValidationError("A slide is still being analysed; sign when every analysis has finished.")


def _clean_interpretation(interpretation: str, text: str) -> tuple[str, str]:
    if interpretation not in ReportVersion.Interpretation.values:
        raise ValidationError(f"Unknown interpretation {interpretation!r}.")
    text = (text or "").strip()
    if interpretation == ReportVersion.Interpretation.FREE_TEXT and not text:
        raise ValidationError("Write the interpretation when choosing free text.")
    return interpretation, text


def _freeze(
    *, user: AbstractBaseUser, case: Case, interpretation: str, text: str, reason: str, amend: bool
) -> ReportVersion:
    _require_reviewer(user, case)
    interpretation, text = _clean_interpretation(interpretation, text)
    reason = (reason or "").strip()
    if amend and not reason:
        raise ValidationError("An amendment needs a reason.")
    with transaction.atomic():
        # One sign-off at a time per case, so two pathologists cannot both write version n.
        case = Case.objects.select_for_update().select_related("lab").get(pk=case.pk)
        latest = ReportVersion.objects.filter(case=case).order_by("-number").first()
        if amend and latest is None:
            raise ValidationError("This case has not been signed yet: sign it rather than amend it.")
        if not amend and latest is not None:
            raise ValidationError("This case is already signed; a change needs an amendment with a reason.")
        _require_analysis_finished(case)
        number = latest.number + 1 if latest else 1
        kind = ReportVersion.Kind.AMENDED if amend else ReportVersion.Kind.FINAL
        now = timezone.now()
        snapshot = report_snapshot(case=case)
        snapshot.update(
            {
                "version": number,
                "status": kind.value,
                "interpretation": {
                    "code": interpretation,
                    "display": ReportVersion.Interpretation(interpretation).label,
                    "text": text,
                },
                "amendment_reason": reason,
                "signed_by": display_name(user),
                "signed_by_username": user.get_username(),
                "signed_at": now.isoformat(),
            }
        )
        version = ReportVersion(
            case=case,
            number=number,
            kind=kind,
            interpretation=interpretation,
            interpretation_text=text,
            amendment_reason=reason,
            snapshot=snapshot,
            signed_by=user,
            signed_at=now,
        )
        version.full_clean()
        version.save()
        Case.objects.filter(pk=case.pk).update(status=Case.Status.SIGNED_OFF, updated_at=now)
        audit_record(
            action=AuditEvent.Action.AMEND if amend else AuditEvent.Action.SIGN_OFF,
            actor=user,
            case=case,
            object_type="report_version",
            object_id=version.pk,
            detail={"version": number, "interpretation": interpretation, "text": text, "reason": reason},
        )
        transaction.on_commit(
            lambda: report_version_signed.send(sender=ReportVersion, version=version, case_id=case.pk)
        )
    return version


def case_sign_off(*, user: AbstractBaseUser, case: Case, interpretation: str, text: str = "") -> ReportVersion:
    """Sign a case's report: freeze version 1 (final) with the interpretation, and mark the case signed off.

    Raises:
        PermissionDenied: ``user`` is not a pathologist of the case's lab.
        ValidationError: already signed (amend instead), analysis unfinished, or a bad interpretation.
    """
    return _freeze(user=user, case=case, interpretation=interpretation, text=text, reason="", amend=False)


def case_amend(
    *, user: AbstractBaseUser, case: Case, interpretation: str, reason: str, text: str = ""
) -> ReportVersion:
    """Amend a signed report: freeze the next version (amended) with the current counts and a required reason.

    The signed versions before it are left exactly as they were.

    Raises:
        PermissionDenied: ``user`` is not a pathologist of the case's lab.
        ValidationError: not signed yet, no reason, analysis unfinished, or a bad interpretation.
    """
    return _freeze(user=user, case=case, interpretation=interpretation, text=text, reason=reason, amend=True)
