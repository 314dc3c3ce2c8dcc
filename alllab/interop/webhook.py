"""Signed result callbacks: an HMAC-SHA256 over the timestamp and the body, POSTed as JSON.

The signing key is the hex SHA-256 of the client's API token. The LIS holds the token, so it can compute the key;
ALL-Lab stores only that hash, never the token. The receiver recomputes
``hmac_sha256(key, f"{timestamp}.".encode() + body)`` and compares it with ``X-AllLab-Signature`` (``sha256=<hex>``),
and rejects old timestamps to stop replays.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.error
import urllib.request

SIGNATURE_HEADER = "X-AllLab-Signature"
TIMESTAMP_HEADER = "X-AllLab-Timestamp"
EVENT_HEADER = "X-AllLab-Event"


class WebhookError(Exception):
    """A callback was not accepted. ``retryable`` is true for network errors, timeouts, 429 and 5xx answers."""

    def __init__(self, message: str, *, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


def webhook_signature(body: bytes, *, key: str, timestamp: int) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(key, ``"<timestamp>."`` + body)."""
    mac = hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def webhook_verify(body: bytes, *, key: str, timestamp: int, signature: str, max_age_s: int = 300) -> bool:
    """What a receiver does: recompute the signature and refuse one older than ``max_age_s`` (replays)."""
    if abs(time.time() - timestamp) > max_age_s:
        return False
    return hmac.compare_digest(webhook_signature(body, key=key, timestamp=timestamp), signature)


def webhook_post(url: str, body: bytes, *, key: str, event: str, timeout: float = 10.0) -> int:
    """POST one signed JSON callback and return the HTTP status of a 2xx answer.

    Raises:
        WebhookError: For any other answer or a network failure; ``retryable`` says whether trying later may help.
    """
    timestamp = int(time.time())
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("User-Agent", "ALL-Lab-webhook/1")
    request.add_header(EVENT_HEADER, event)
    request.add_header(TIMESTAMP_HEADER, str(timestamp))
    request.add_header(SIGNATURE_HEADER, webhook_signature(body, key=key, timestamp=timestamp))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        raise WebhookError(f"{url} answered {exc.code}", retryable=exc.code == 429 or exc.code >= 500) from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise WebhookError(f"{url} unreachable: {exc}", retryable=True) from exc
