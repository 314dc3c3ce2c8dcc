"""Trigger: after each analysis task, see whether its case is now complete and owes a callback.

A Celery ``task_postrun`` receiver rather than a call inside the analysis service, so the analysis app does not have
to know about callbacks; it does no work itself beyond a claim and an enqueue.
"""

from __future__ import annotations

import logging

from celery.signals import task_postrun

from alllab.cases.models import Case

log = logging.getLogger(__name__)
ANALYZE_TASK = "alllab.analysis.tasks.analyze_slide"


@task_postrun.connect(weak=False)
def on_task_postrun(sender=None, task=None, args=(), kwargs=None, **extra) -> None:
    name = getattr(task or sender, "name", "")
    if name != ANALYZE_TASK:
        return
    run_id = args[0] if args else (kwargs or {}).get("run_id")
    try:
        case_callback_enqueue(run_id=run_id)
    except Exception:  # a callback problem must never fail or retry the analysis
        log.exception("could not check the callback for run %s", run_id)


def case_callback_enqueue(*, run_id: int) -> bool:
    """Claim and enqueue the callback of the run's case if it is now complete; True if one was enqueued."""
    from alllab.interop.callbacks import case_callback_claim
    from alllab.interop.tasks import deliver_case_callback

    case = Case.objects.filter(slides__runs__pk=run_id).first()
    if case is None:
        return False
    order = case_callback_claim(case=case)
    if order is None:
        return False
    deliver_case_callback.delay(order.pk, order.callback_runs)
    return True
