"""Triggers: a case whose every slide has finished (``cases.signals.case_analysed``) and a signed or amended report
(``review.signals.report_signed``), both sent after commit, may owe a callback. The receivers only claim and
enqueue; delivery is ``tasks.deliver_case_callback``."""

from __future__ import annotations

from django.dispatch import receiver

from alllab.cases.signals import case_analysed
from alllab.interop.callbacks import case_callback_claim, report_callback_claim
from alllab.interop.tasks import deliver_case_callback
from alllab.review.signals import report_signed


@receiver(case_analysed, dispatch_uid="interop.case_callback")
def on_case_analysed(sender, case_id: int, **kwargs) -> None:
    case_callback_enqueue(case_id=case_id)


def case_callback_enqueue(*, case_id: int) -> bool:
    """Claim and enqueue the callback of case ``case_id`` if it owes one now; True if one was enqueued."""
    order = case_callback_claim(case_id=case_id)
    if order is None:
        return False
    deliver_case_callback.delay(order.pk, order.callback_runs)
    return True


@receiver(report_signed, dispatch_uid="interop.report_callback")
def on_report_signed(sender, case_id: int, version: int, **kwargs) -> None:
    """Send the signed result (event ``case.signed``, or ``case.amended`` with the new reviewed values)."""
    order = report_callback_claim(case_id=case_id, version=version)
    if order is not None:
        deliver_case_callback.delay(order.pk, order.callback_runs)
