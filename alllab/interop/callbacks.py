"""Result callbacks for orders that asked for one: claimed once per set of finished analyses, then delivered."""

from __future__ import annotations

import logging

from django.db.models import F
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from alllab.analysis.models import AnalysisRun
from alllab.analysis.selectors import current_runs_for_case
from alllab.api.models import CaseOrder
from alllab.cases.models import Case

log = logging.getLogger(__name__)
EVENT = "case.analysed"
FINISHED = (AnalysisRun.Status.DONE, AnalysisRun.Status.FAILED)


def case_callback_claim(*, case: Case) -> CaseOrder | None:
    """Claim the callback of ``case`` if every slide's current run has finished and this set was not sent yet.

    Returns the claimed order (its ``callback_runs`` names the runs), or None when there is nothing to send: no
    callback asked for, no client to sign with, a slide still queued or running, or this set already claimed.
    """
    order = CaseOrder.objects.filter(case=case).exclude(callback_url="").exclude(client=None).first()
    if order is None:
        return None
    runs = current_runs_for_case(case=case)
    if not runs or len(runs) != case.slides.count() or any(r.status not in FINISHED for r in runs):
        return None
    key = ",".join(str(r.pk) for r in sorted(runs, key=lambda r: r.pk))
    claimed = (
        CaseOrder.objects.filter(pk=order.pk)
        .exclude(callback_runs=key)
        .update(callback_runs=key, callback_status="pending", callback_attempts=0, callback_error="")
    )
    if not claimed:
        return None
    order.refresh_from_db()
    return order


def case_callback_body(*, order: CaseOrder) -> bytes:
    """The callback's JSON: the event, a delivery id to de-duplicate on, and the case as ``GET /cases/{id}/`` shows it."""
    from alllab.api.representations import case_json  # api builds on interop, not the other way at import time
    from alllab.api.serializers import CaseDetailSerializer

    case = Case.objects.select_related("lab").get(pk=order.case_id)
    runs = {r.slide_id: r for r in current_runs_for_case(case=case)}
    slides = [(s, runs.get(s.pk)) for s in case.slides.all()]
    payload = {
        "event": EVENT,
        "delivery": f"{order.pk}:{order.callback_runs}",
        "case": CaseDetailSerializer(case_json(case, slides=slides)).data,
    }
    return JSONRenderer().render(payload)


def callback_attempt_record(*, order_id: int, error: str = "", final: bool = False, delivered: bool = False) -> None:
    """Count one delivery attempt and record its outcome."""
    fields: dict = {"callback_attempts": F("callback_attempts") + 1, "callback_error": error[:500]}
    if delivered:
        fields.update(callback_status="delivered", callback_delivered_at=timezone.now())
    elif final:
        fields.update(callback_status="failed")
    CaseOrder.objects.filter(pk=order_id).update(**fields)
