"""The analysis task: a thin shell that loads the model once per process and calls ``services.run_execute``."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError

from alllab.analysis import services

log = logging.getLogger(__name__)

# Worth another try: the database or storage blinked. Anything else is a property of the input or a bug.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, ConnectionError, TimeoutError)
MAX_RETRIES = 3


def resolve_device(device: str) -> str:
    """``auto`` means cuda when torch sees a GPU, else cpu; anything else is passed through."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_predictor():
    """The process's predictor (``Predictor.load`` caches it), on the device from ``ALLLAB_DEVICE``."""
    from inference.predict import Predictor  # torch: only the worker pays for it

    return Predictor.load(settings.ALLLAB_WEIGHTS or None, device=resolve_device(settings.ALLLAB_DEVICE))


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
def analyze_slide(self, run_id: int) -> None:
    """Analyse the slide of run ``run_id``; safe to deliver twice (the run row is claimed, cells rewritten)."""
    try:
        services.run_execute(run_id=run_id, predictor=load_predictor())
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
