"""Signed callbacks: the receiver can verify them; failures say whether a retry may help."""

import json
import time

import pytest

from alllab.interop.webhook import WebhookError, webhook_post, webhook_signature, webhook_verify

KEY = "ab" * 32


def test_it_signs_so_that_the_receiver_can_verify(http_receiver):
    rx = http_receiver([200])
    body = json.dumps({"event": "case.analysed"}).encode()
    assert webhook_post(rx.url, body, key=KEY, event="case.analysed", timeout=5) == 200
    ((headers, received),) = rx.requests
    assert received == body
    assert headers["Content-Type"] == "application/json"
    assert headers["X-AllLab-Event"] == "case.analysed"
    ts = int(headers["X-AllLab-Timestamp"])
    assert webhook_verify(received, key=KEY, timestamp=ts, signature=headers["X-AllLab-Signature"])
    assert not webhook_verify(received + b" ", key=KEY, timestamp=ts, signature=headers["X-AllLab-Signature"])
    assert not webhook_verify(received, key="cd" * 32, timestamp=ts, signature=headers["X-AllLab-Signature"])


def test_it_refuses_an_old_signature():
    old = int(time.time()) - 3600
    sig = webhook_signature(b"{}", key=KEY, timestamp=old)
    assert not webhook_verify(b"{}", key=KEY, timestamp=old, signature=sig)


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (429, True), (400, False), (404, False)])
def test_it_says_whether_a_failed_answer_is_worth_retrying(http_receiver, status, retryable):
    rx = http_receiver([status])
    with pytest.raises(WebhookError) as info:
        webhook_post(rx.url, b"{}", key=KEY, event="e", timeout=5)
    assert info.value.retryable is retryable


def test_it_retries_an_unreachable_receiver(http_receiver):
    rx = http_receiver()
    url = rx.url
    rx.close()
    with pytest.raises(WebhookError, match="unreachable") as info:
        webhook_post(url, b"{}", key=KEY, event="e", timeout=2)
    assert info.value.retryable
