"""Writes of the review: reclassify cells, sign off, amend, and record each in the audit trail.

Permission checks live here, not in the views, so the web page and any other caller share them: each write takes
the caller's ``Scope`` (lab access) and the user (the pathologist role); only a pathologist of the case's lab, in
the caller's scope, may reclassify, sign or amend.
"""

from __future__ import annotations

import logging
from functools import partial

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from alllab.accounts.scope import Scope
from alllab.accounts.selectors import user_can_review
from alllab.cases.models import Case
from alllab.cases.services import case_mark_signed
from alllab.review.models import AuditEvent, CellReview, ReportVersion, ReviewLabel
from alllab.review.selectors import display_name, report_snapshot, review_cells, review_counts
from alllab.review.signals import report_signed

log = logging.getLogger(__name__)

MAX_CELLS_PER_CHANGE = 5000  # far more than a smear holds; stops a runaway request, not a real review


def audit_record(
    *,
    action: str,
    actor: User | None,
    case: Case | None = None,
    lab_id: int | None = None,
    object_type: str = "",
    object_id: object = "",
    detail: dict | None = None,
) -> AuditEvent:
    """Record one event with who and when (``actor`` None for the system or an anonymous caller)."""
    return AuditEvent.objects.create(**_event_fields(action, actor, case, lab_id, object_type, object_id, detail))


def _event_fields(
    action: str,
    actor: User | None,
    case: Case | None,
    lab_id: int | None,
    object_type: str,
    object_id: object,
    detail: dict | None,
) -> dict:
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


def _require_reviewer(scope: Scope, user: User, case: Case) -> None:
    # Lab access from the caller's scope, the pathologist role from the user.
    if not scope.can_read(case.lab_id) or not user_can_review(user=user, lab=case.lab):
        raise PermissionDenied("Only a pathologist of this case's lab may review, sign or amend it.")


@transaction.atomic
def cell_reclassify(*, scope: Scope, user: User, case: Case, cell_ids: list[int], label: str) -> list[CellReview]:
    """Give each of ``cell_ids`` (cells of ``case``'s current runs) the reviewer's ``label``; one audit event per change.

    A cell already at ``label`` by review is left alone (nothing changed, nothing recorded). Reclassifying after
    sign-off is allowed: the signed version stays as it was until a pathologist issues an amendment.

    Raises:
        PermissionDenied: the case's lab is outside ``scope``, or ``user`` is not a pathologist of it.
        ValidationError: an unknown label, no cells, too many, or a cell that is not on this case's current runs.
    """
    _require_reviewer(scope, user, case)
    if label not in ReviewLabel.values:
        raise ValidationError(f"Unknown label {label!r}; expected one of {', '.join(ReviewLabel.values)}.")
    wanted = list(dict.fromkeys(int(i) for i in cell_ids))
    if not wanted:
        raise ValidationError("No cells given.")
    if len(wanted) > MAX_CELLS_PER_CHANGE:
        raise ValidationError(f"At most {MAX_CELLS_PER_CHANGE} cells per change.")
    cells = {c.id: c for c in review_cells(scope=scope, case=case).filter(id__in=wanted)}
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
    # The case's own status says whether every slide has finished (alllab.cases owns it); a summary is stored once
    # one slide's analysis is done. A signed case (an amendment) was finished when it was signed.
    case = Case.objects.get(pk=case.pk)
    if not case.has_summary:
        raise ValidationError("No slide of this case has a finished analysis to report.")
    if case.status == Case.Status.ANALYSING:
        raise ValidationError("A slide is still being analysed; sign when every analysis has finished.")


def _require_all_reviewed(scope: Scope, case: Case) -> None:
    # Signing a partly reviewed case would report a fraction of the cells someone chose to look at, which is biased
    # (confirming the AI's blasts and a few others inflates it), so every cell needs a reviewer's class first.
    counts = review_counts(scope=scope, case=case)
    if counts.n_unreviewed:
        raise ValidationError(
            f"{counts.n_unreviewed} of {counts.n_cells} cells are not reviewed: give every cell a class before "
            "signing (the Unreviewed filter shows them)."
        )


def _clean_interpretation(interpretation: str, text: str) -> tuple[str, str]:
    if interpretation not in ReportVersion.Interpretation.values:
        raise ValidationError(f"Unknown interpretation {interpretation!r}.")
    text = (text or "").strip()
    if interpretation == ReportVersion.Interpretation.FREE_TEXT and not text:
        raise ValidationError("Write the interpretation when choosing free text.")
    return interpretation, text


def _check(
    *, scope: Scope, user: User, case: Case, interpretation: str, text: str, reason: str, amend: bool
) -> tuple[str, str, str, ReportVersion | None]:
    """Every rule a sign-off or amendment must pass; returns the cleaned fields and the latest version."""
    _require_reviewer(scope, user, case)
    interpretation, text = _clean_interpretation(interpretation, text)
    reason = (reason or "").strip()
    if amend and not reason:
        raise ValidationError("An amendment needs a reason.")
    latest = ReportVersion.objects.filter(case=case).order_by("-number").first()
    if amend and latest is None:
        raise ValidationError("This case has not been signed yet: sign it rather than amend it.")
    if not amend and latest is not None:
        raise ValidationError("This case is already signed; a change needs an amendment with a reason.")
    _require_analysis_finished(case)
    _require_all_reviewed(scope, case)
    return interpretation, text, reason, latest


def case_sign_check(
    *, scope: Scope, user: User, case: Case, interpretation: str, text: str = "", reason: str = "", amend: bool = False
) -> None:
    """Raise what signing (or amending) would raise, writing nothing: the confirmation step asks this first.

    Raises:
        PermissionDenied: the case's lab is outside ``scope``, or ``user`` is not a pathologist of it.
        ValidationError: any reason the sign-off or amendment would be refused.
    """
    _check(scope=scope, user=user, case=case, interpretation=interpretation, text=text, reason=reason, amend=amend)


def _freeze(
    *, scope: Scope, user: User, case: Case, interpretation: str, text: str, reason: str, amend: bool
) -> ReportVersion:
    _require_reviewer(scope, user, case)
    with transaction.atomic():
        # One sign-off at a time per case, so two pathologists cannot both write version n.
        case = Case.objects.select_for_update().select_related("lab").get(pk=case.pk)
        interpretation, text, reason, latest = _check(
            scope=scope, user=user, case=case, interpretation=interpretation, text=text, reason=reason, amend=amend
        )
        number = latest.number + 1 if latest else 1
        kind = ReportVersion.Kind.AMENDED if amend else ReportVersion.Kind.FINAL
        now = timezone.now()
        snapshot = report_snapshot(scope=scope, case=case)
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
                "signed_by_role": "Pathologist",  # only a pathologist may sign (_require_reviewer)
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
        case_mark_signed(case=case)
        audit_record(
            action=AuditEvent.Action.AMEND if amend else AuditEvent.Action.SIGN_OFF,
            actor=user,
            case=case,
            object_type="report_version",
            object_id=version.pk,
            detail={"version": number, "interpretation": interpretation, "text": text, "reason": reason},
        )
        transaction.on_commit(partial(_report_signed_send, case_id=case.pk, version=number))
    return version


def _report_signed_send(*, case_id: int, version: int) -> None:
    # A receiver's failure (a LIS callback that cannot be queued) must never undo or fail the signature.
    for receiver, result in report_signed.send_robust(sender=ReportVersion, case_id=case_id, version=version):
        if isinstance(result, Exception):
            log.error("case %s: report_signed receiver %s failed", case_id, receiver, exc_info=result)


def case_sign_off(*, scope: Scope, user: User, case: Case, interpretation: str, text: str = "") -> ReportVersion:
    """Sign a case's report: freeze version 1 (final) with the interpretation, and mark the case signed off.

    Raises:
        PermissionDenied: the case's lab is outside ``scope``, or ``user`` is not a pathologist of it.
        ValidationError: already signed (amend instead), analysis unfinished, a cell not reviewed, or a bad
            interpretation.
    """
    return _freeze(scope=scope, user=user, case=case, interpretation=interpretation, text=text, reason="", amend=False)


def case_amend(
    *, scope: Scope, user: User, case: Case, interpretation: str, reason: str, text: str = ""
) -> ReportVersion:
    """Amend a signed report: freeze the next version (amended) with the current counts and a required reason.

    The signed versions before it are left exactly as they were.

    Raises:
        PermissionDenied: the case's lab is outside ``scope``, or ``user`` is not a pathologist of it.
        ValidationError: not signed yet, no reason, analysis unfinished, or a bad interpretation.
    """
    return _freeze(
        scope=scope, user=user, case=case, interpretation=interpretation, text=text, reason=reason, amend=True
    )
