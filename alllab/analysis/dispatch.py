"""Queue a slide's analysis and send it to a worker.

Above ``services`` and ``tasks`` (it sends ``tasks.analyze_slide``, which calls ``services``), so none of them needs to
import another the other way round.
"""

from __future__ import annotations

import logging
from functools import partial

from django.db import transaction

from alllab.analysis.models import AnalysisRun
from alllab.analysis.services import case_summary_refresh
from alllab.analysis.tasks import analyze_slide
from alllab.cases.models import Slide

log = logging.getLogger(__name__)

NOT_SENT = "Waiting for the task queue (the broker was unreachable); it is sent again automatically."


def run_enqueue(*, slide: Slide) -> AnalysisRun:
    """Create a queued run for ``slide`` and send it to a worker once the surrounding transaction commits."""
    run = AnalysisRun.objects.create(slide=slide)
    # run_send, not delay_on_commit: a broker outage leaves the run queued for the sweeper instead of failing the
    # upload that has already committed.
    transaction.on_commit(partial(run_send, run_id=run.id))
    case_summary_refresh(case=slide.case)
    return run


def run_send(*, run_id: int) -> bool:
    """Send run ``run_id`` to a worker; on a broker error, log it and mark the run as not sent (it stays queued).

    The upload that created the run has committed by now: a broker outage must not turn it into an error page.
    """
    try:
        analyze_slide.delay(run_id)
    except Exception as exc:  # kombu raises OperationalError, redis ConnectionError, sockets OSError...
        log.warning(
            "run %s: could not reach the broker (%s: %s); left queued for the sweeper", run_id, type(exc).__name__, exc
        )
        AnalysisRun.objects.filter(pk=run_id, status=AnalysisRun.Status.QUEUED).update(error=NOT_SENT)
        return False
    AnalysisRun.objects.filter(pk=run_id, status=AnalysisRun.Status.QUEUED, error=NOT_SENT).update(error="")
    return True
