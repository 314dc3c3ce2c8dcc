"""Writes of cases. Each checks the user's role in the lab, so the web pages and the API share the rule.

Slides are created by ``alllab.analysis.intake.slide_create`` (it decodes the image and queues the run).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from alllab.accounts.models import Lab
from alllab.accounts.scope import Scope
from alllab.cases.models import Case
from alllab.cases.signals import case_analysed

log = logging.getLogger(__name__)


WRITE_REFUSED = "Only the lab's technicians and lab admins may create cases and upload slides."


def case_create(
    *,
    scope: Scope,
    lab: Lab,
    accession_number: str,
    patient_pseudonym: str,
    created_by: User,
    specimen_date: dt.date | None = None,
) -> Case:
    """Create a case in ``lab``, made by ``created_by``.

    Raises:
        PermissionDenied: ``scope`` may not write in ``lab``.
        ValidationError: the accession number is already used in that lab, or a field is invalid.
    """
    if not scope.can_write(lab.pk):
        raise PermissionDenied(WRITE_REFUSED)
    case = Case(
        lab=lab,
        accession_number=accession_number.strip(),
        patient_pseudonym=patient_pseudonym.strip(),
        specimen_date=specimen_date,
        created_by=created_by,
    )
    case.full_clean()
    case.save()
    return case


@dataclass(frozen=True)
class CaseRuns:
    """What the analysis layer reports about a case's slides, read while the case is locked."""

    n_runs: int  # slides with a current run
    n_finished: int  # of which done or failed
    summary: dict[str, Any]  # summary columns (``alllab.analysis.summaries.summary_columns``) over the done ones


def case_refresh(*, case: Case, runs: Callable[[Case], CaseRuns]) -> str:
    """Set a case's status and summary from its slides' current runs; returns the status.

    ``runs`` (given by ``alllab.analysis``, which owns the runs) is called with the case row locked, so two workers
    finishing a case's last two slides refresh it one at a time and the last sees both. A signed-off case is left
    alone. When every slide has finished, and the case was not already so, ``case_analysed`` is sent after commit.
    """
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        if case.status == Case.Status.SIGNED_OFF:
            return case.status
        state = runs(case)
        if not state.n_runs:
            status = Case.Status.NEW
        elif state.n_finished < max(state.n_runs, case.slides.count()):
            status = Case.Status.ANALYSING
        else:
            status = Case.Status.AWAITING_REVIEW
        Case.objects.filter(pk=case.pk).update(status=status, **state.summary, updated_at=timezone.now())
        if status == Case.Status.AWAITING_REVIEW and case.status != status:
            transaction.on_commit(partial(_case_analysed_send, case_id=case.pk))
    return status


def _case_analysed_send(*, case_id: int) -> None:
    # A receiver's failure (a callback that cannot be queued) must never fail the analysis that finished the case.
    for receiver, result in case_analysed.send_robust(sender=Case, case_id=case_id):
        if isinstance(result, Exception):
            log.error("case %s: case_analysed receiver %s failed", case_id, receiver, exc_info=result)


def case_mark_signed(*, case: Case) -> None:
    """Mark ``case`` signed off (``alllab.review`` calls it inside the sign-off's transaction); refreshes stop."""
    Case.objects.filter(pk=case.pk).update(status=Case.Status.SIGNED_OFF, updated_at=timezone.now())
