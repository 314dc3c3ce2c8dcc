"""Result callbacks for orders that asked for one: claimed once per set of finished analyses, then delivered."""

from __future__ import annotations

import logging

from django.db.models import F
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from alllab.accounts.scope import SYSTEM
from alllab.analysis.selectors import current_runs_for_case
from alllab.cases.models import Case
from alllab.interop.models import CaseOrder
from alllab.interop.representations import case_json
from alllab.interop.serializers import CaseDetailSerializer

log = logging.getLogger(__name__)
EVENT = "case.analysed"
# A signed result is sent once per report version: its key names the version, so a sign-off and each amendment are
# one delivery each, and a newer version supersedes an older one still retrying.
SIGNED_EVENTS = {"final": "case.signed", "amended": "case.amended"}
REPORT_KEY_PREFIX = "report-v"


def callback_event(key: str) -> str:
    """The event a delivery key stands for: ``case.signed`` for version 1, ``case.amended`` after, else analysed."""
    if not key.startswith(REPORT_KEY_PREFIX):
        return EVENT
    return SIGNED_EVENTS["final" if key == f"{REPORT_KEY_PREFIX}1" else "amended"]


def _order_with_callback(case_id: int) -> CaseOrder | None:
    return CaseOrder.objects.filter(case_id=case_id).exclude(callback_url="").exclude(client=None).first()


def _claim(order: CaseOrder, key: str) -> CaseOrder | None:
    claimed = (
        CaseOrder.objects.filter(pk=order.pk)
        .exclude(callback_runs=key)
        .update(callback_runs=key, callback_status="pending", callback_attempts=0, callback_error="")
    )
    if not claimed:
        return None
    order.refresh_from_db()
    return order


def report_callback_claim(*, case_id: int, version: int) -> CaseOrder | None:
    """Claim the callback carrying report version ``version`` of case ``case_id`` (its signed result), once.

    Returns the claimed order (``callback_runs`` = ``report-v<n>``), or None: no callback asked for, no client to
    sign with, or this version already claimed.
    """
    order = _order_with_callback(case_id)
    return _claim(order, f"{REPORT_KEY_PREFIX}{version}") if order is not None else None


def case_callback_claim(*, case_id: int) -> CaseOrder | None:
    """Claim the callback of case ``case_id`` if the case is analysed and this set of runs was not sent yet.

    "Analysed" is the case's own status (``awaiting_review``: every slide's current run has finished, done or
    failed), set by ``alllab.cases``. Returns the claimed order (its ``callback_runs`` names the runs), or None when
    there is nothing to send: no callback asked for, no client to sign with, the case not analysed (again), or this
    set already claimed.
    """
    order = _order_with_callback(case_id)
    if order is None:
        return None
    case = Case.objects.get(pk=case_id)
    if case.status != Case.Status.AWAITING_REVIEW:
        return None
    runs = current_runs_for_case(scope=SYSTEM, case=case)
    return _claim(order, ",".join(str(r.pk) for r in sorted(runs, key=lambda r: r.pk)))


def case_callback_body(*, order: CaseOrder) -> bytes:
    """The callback's JSON: the event, a delivery id to de-duplicate on, and the case as ``GET /cases/{id}/`` shows it."""
    case = Case.objects.select_related("lab").get(pk=order.case_id)
    runs = {r.slide_id: r for r in current_runs_for_case(scope=SYSTEM, case=case)}
    slides = [(s, runs.get(s.pk)) for s in case.slides.all()]
    payload = {
        "event": callback_event(order.callback_runs),
        "delivery": f"{order.pk}:{order.callback_runs}",
        "case": CaseDetailSerializer(case_json(case, scope=SYSTEM, slides=slides)).data,
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
