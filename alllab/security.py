"""Security headers Django 5.2 does not set itself: a Content-Security-Policy on every response.

The pages load scripts, styles and images from this origin only (no CDN, no inline script), so the policy can be
strict: an injected ``<script>`` or a stray inline handler does not run. ``ALLLAB_CSP`` replaces the policy whole
(for a deployment that serves static files from another origin, say).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

DEFAULT_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",  # no inline script or handler anywhere in the templates
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    """Adds ``Content-Security-Policy`` (``settings.ALLLAB_CSP``) to every response that has none yet."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = settings.ALLLAB_CSP

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.policy:
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response
