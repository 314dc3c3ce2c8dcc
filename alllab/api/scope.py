"""The scope of an API request: its token's client, or the signed-in user (``alllab.accounts.scope`` holds the rule)."""

from __future__ import annotations

from rest_framework.request import Request

from alllab.accounts.models import LisClient
from alllab.accounts.scope import Scope, scope_for_client, scope_for_user


def scope_for_request(request: Request) -> Scope:
    """The caller's scope. A token is scoped to its lab alone, whatever memberships its service user has."""
    if isinstance(request.auth, LisClient):
        return scope_for_client(request.auth)
    return scope_for_user(request.user)
