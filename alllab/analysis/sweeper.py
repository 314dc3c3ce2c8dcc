"""Keeping runs moving when the broker or a worker lets them down.

Two things can strand a run. The broker may be unreachable when a slide is uploaded: the upload is still stored and
its run stays ``queued``, marked as not sent (``dispatch.run_send``). And a worker may die mid-analysis (killed, out of memory,
machine lost): its run stays ``running`` with nobody working on it. ``runs_sweep`` (Celery beat every minute, or
``manage.py sweep_runs``) sends the unsent runs again, re-queues a run stuck longer than the task's hard time limit,
and fails it with a reason after ``services.MAX_ATTEMPTS`` claims, so a slide that kills workers cannot kill them forever.

Sending twice is harmless: the task claims its row with a conditional UPDATE, so only one delivery does the work.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from alllab.analysis.dispatch import NOT_SENT, run_send
from alllab.analysis.models import AnalysisRun
from alllab.analysis.services import MAX_ATTEMPTS, run_fail

log = logging.getLogger(__name__)

QUEUED_GRACE = timedelta(seconds=30)  # a run this young may still be on its way to the broker or a worker


@dataclass
class SweepReport:
    """What one sweep did, by run id."""

    sent: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    unsent: list[int] = field(default_factory=list)  # still could not reach the broker


def broker_queue_size() -> int | None:
    """Messages waiting in the default queue, or None when the broker cannot say (or cannot be reached)."""
    from alllab.celery import app

    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            # Not passive: Redis has no key for an empty queue, and a passive declare calls that "not found".
            # kombu's StdChannel stub lacks queue_declare, which every transport's channel has.
            _, count, _ = conn.default_channel.queue_declare(queue=app.conf.task_default_queue)  # type: ignore[attr-defined]
            return int(count)
    except Exception as exc:  # any broker trouble means "do not know"
        log.info("broker queue size unknown: %s", exc)
        return None


def runs_sweep(*, stuck_after: timedelta | None = None, now: datetime | None = None) -> SweepReport:
    """Send unsent runs, re-queue stuck ones, fail those that used up their attempts.

    Args:
        stuck_after: How long a run may stay ``running`` before its worker is presumed dead; by default the task's
            hard time limit (Celery kills a task at that age, so no live worker holds it any longer).
        now: The current time (tests pass a fixed one).
    """
    now = now or timezone.now()
    stuck_after = stuck_after or timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    report = SweepReport()

    stuck = AnalysisRun.objects.filter(status=AnalysisRun.Status.RUNNING, started_at__lt=now - stuck_after)
    for run in stuck.only("id", "attempts", "started_at"):
        # Conditional on the same started_at: a worker that claimed it meanwhile keeps it.
        same = AnalysisRun.objects.filter(pk=run.id, status=AnalysisRun.Status.RUNNING, started_at=run.started_at)
        if run.attempts >= MAX_ATTEMPTS:
            if same.exists():
                run_fail(
                    run_id=run.id,
                    reason=f"The analysis stopped without finishing {run.attempts} times (the worker died or "
                    f"hung each time); giving up. Re-analyse the slide to try again.",
                )
                report.failed.append(run.id)
        elif same.update(status=AnalysisRun.Status.QUEUED, progress=0.0):
            log.warning("run %s: running since %s with no worker; re-queued", run.id, run.started_at)
            report.requeued.append(run.id)

    # Orphans: unsent (marked), re-queued just now, or, when the broker's queue is empty, any queued run older than
    # the grace period (its message was lost, e.g. a Redis restarted without persistence).
    orphan = Q(error=NOT_SENT) | Q(pk__in=report.requeued)
    if broker_queue_size() == 0:
        orphan |= Q(created_at__lt=now - QUEUED_GRACE)
    queued = AnalysisRun.objects.filter(orphan, status=AnalysisRun.Status.QUEUED).order_by("id")
    for run_id in queued.values_list("id", flat=True):
        (report.sent if run_send(run_id=run_id) else report.unsent).append(run_id)
    return report


@shared_task(name="alllab.analysis.sweep_runs", ignore_result=True)
def sweep_runs() -> dict:
    """Celery beat's entry (``CELERY_BEAT_SCHEDULE``): one sweep, its report for the worker's log."""
    report = runs_sweep()
    if report.sent or report.requeued or report.failed or report.unsent:
        log.info("sweep: %s", report)
    return vars(report)
