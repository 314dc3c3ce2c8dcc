"""The worker's tasks: analysis (the lab's active model, loaded once per process) and lab adaptation (own queue).

Both are thin shells around a service: ``services.run_execute`` and ``adaptation_jobs.adaptation_job_execute``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError

from alllab.analysis import services
from alllab.analysis.models import AnalysisRun
from alllab.labmodels.models import LabModel
from alllab.labmodels.selectors import active_model_for_lab

if TYPE_CHECKING:
    from alllab.analysis.predictor import PredictorLike
    from inference.predict import Predictor

log = logging.getLogger(__name__)

# Worth another try: the database or storage blinked. Anything else is a property of the input or a bug.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, ConnectionError, TimeoutError)
MAX_RETRIES = 3


def load_predictor() -> Predictor:
    """The process's predictor (``Predictor.load`` caches it), on the device from ``ALLLAB_DEVICE``."""
    from inference.predict import Predictor  # torch: only the worker pays for it

    return Predictor.load(settings.ALLLAB_WEIGHTS or None, device=settings.ALLLAB_DEVICE)  # it resolves "auto"


def load_predictor_for_run(run_id: int) -> tuple[PredictorLike, LabModel | None]:
    """(predictor, registry row or None) for the lab of run ``run_id``: its active lab model, else the shipped one.

    A lab model comes from the process's sha256-keyed cache and must hash to its registered sha256 (a tampered file
    fails the run with the reason); the shipped model stays in ``Predictor.load``'s own per-process cache.
    """
    from alllab.analysis.model_cache import model_cache  # torch: only the worker pays for it
    from inference.predict import resolve_device

    lab_id = AnalysisRun.objects.filter(pk=run_id).values_list("slide__case__lab_id", flat=True).first()
    active = active_model_for_lab(lab_id=lab_id) if lab_id is not None else None
    if active is None or active.kind == LabModel.Kind.SHIPPED:
        return load_predictor(), active
    cache = model_cache(settings.ALLLAB_MODEL_CACHE_SIZE)
    device = str(resolve_device(settings.ALLLAB_DEVICE))
    return cache.get(path=active.checkpoint.path, sha256=active.sha256, device=device), active


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
def analyze_slide(self: Task, run_id: int) -> None:
    """Analyse the slide of run ``run_id``; safe to deliver twice (the run row is claimed, cells rewritten)."""
    try:
        predictor, lab_model = load_predictor_for_run(run_id)
        services.run_execute(
            run_id=run_id,
            predictor=predictor,
            lab_model_id=lab_model.pk if lab_model else None,
            worker=self.request.hostname or "",  # "celery@host"; the plain host name when applied eagerly
        )
    except SoftTimeLimitExceeded:
        services.run_fail(
            run_id=run_id, reason=f"The analysis took longer than {settings.CELERY_TASK_SOFT_TIME_LIMIT} s."
        )
    except TRANSIENT_ERRORS as exc:
        if self.request.retries >= MAX_RETRIES:
            services.run_fail(run_id=run_id, reason=f"Gave up after {MAX_RETRIES + 1} attempts: {exc}")
            return
        log.warning("run %s: transient error, retrying: %s", run_id, exc)
        services.run_requeue(run_id=run_id)
        raise self.retry(exc=exc, countdown=5 * 2**self.request.retries) from exc
    except Exception as exc:
        # A bug or a broken model file: fail visibly with the reason instead of retrying forever.
        log.exception("run %s failed", run_id)
        services.run_fail(run_id=run_id, reason=f"Internal error ({type(exc).__name__}): {exc}")


# acks_late off on purpose: a training outlives Redis's visibility timeout, which would hand the still-running job to
# a second worker. Acked on receipt instead; a worker that dies mid-training leaves the job "running" and the claim
# (queued -> running) means a resent message never trains twice.
@shared_task(
    name="alllab.analysis.adapt_lab_model",
    acks_late=False,
    soft_time_limit=settings.ALLLAB_TRAINING_TIME_LIMIT,
    time_limit=settings.ALLLAB_TRAINING_TIME_LIMIT + 60,
)
def adapt_lab_model(job_id: int) -> None:
    """Fine-tune lab job ``job_id``'s base model on its reviewed cells and store the scored candidate."""
    from alllab.analysis.adaptation_jobs import adaptation_job_execute  # torch: only the worker pays for it

    adaptation_job_execute(job_id=job_id)
