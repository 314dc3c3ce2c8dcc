"""Rate limits per API client (token) and per signed-in user, so one busy LIS cannot starve another lab."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from alllab.accounts.models import LisClient


class ClientRateThrottle(SimpleRateThrottle):
    """One bucket per token (``lis_client`` rate) or per session user (``user`` rate); anonymous calls are refused
    before throttling by authentication, so they share nothing here."""

    def get_rate(self) -> str | None:
        # The scope depends on the request, so the rate is looked up in allow_request rather than at construction.
        return None

    def allow_request(self, request: Request, view: object) -> bool:
        if isinstance(request.auth, LisClient):
            self.scope, ident = "lis_client", f"client-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            self.scope, ident = "user", f"user-{request.user.pk}"
        else:
            return True
        # Read at request time (not the class attribute bound at import), so settings overrides take effect.
        self.rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self.key = self.cache_format % {"scope": self.scope, "ident": ident}
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        if len(self.history) >= self.num_requests:
            return self.throttle_failure()
        return self.throttle_success()

    def get_cache_key(self, request: Request, view: object) -> str | None:  # pragma: no cover - allow_request decides
        return None
