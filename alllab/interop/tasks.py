"""Celery tasks of interop: deliver a signed result callback, retrying with exponential backoff."""

from __future__ import annotations

import logging

from celery import shared_task

from alllab.interop.callbacks import callback_attempt_record, callback_event, case_callback_body
from alllab.interop.models import CaseOrder
from alllab.interop.webhook import WebhookError, webhook_post

log = logging.getLogger(__name__)
MAX_RETRIES = 6  # 10 s, 20 s, 40 s ... 320 s: about ten minutes of a receiver being down
BACKOFF_S = 10


@shared_task(bind=True, max_retries=MAX_RETRIES)
def deliver_case_callback(self, order_id: int, runs_key: str) -> None:
    """POST the case's results to the order's callback URL; a newer claim (runs or report version) supersedes it."""
    order = CaseOrder.objects.select_related("client").filter(pk=order_id).first()
    if order is None or order.callback_runs != runs_key or order.client is None:
        return  # deleted, or a re-analysis claimed a newer callback
    body = case_callback_body(order=order)
    try:
        webhook_post(order.callback_url, body, key=order.client.token_hash, event=callback_event(runs_key))
    except WebhookError as exc:
        retry = exc.retryable and self.request.retries < MAX_RETRIES
        callback_attempt_record(order_id=order_id, error=str(exc), final=not retry)
        if retry:
            log.warning("callback for order %s failed, retrying: %s", order_id, exc)
            raise self.retry(exc=exc, countdown=BACKOFF_S * 2**self.request.retries) from exc
        log.error("callback for order %s given up: %s", order_id, exc)
        return
    callback_attempt_record(order_id=order_id, delivered=True)
