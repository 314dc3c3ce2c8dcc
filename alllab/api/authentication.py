"""Bearer-token authentication for LIS clients.

A client authenticates as its service user (``request.user``, so writes record who made them) with the client itself
as ``request.auth``; :mod:`alllab.api.scope` reads the client's one lab from there, never from memberships.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from alllab.accounts.models import LisClient
from alllab.api.services import lis_client_touch
from alllab.api.tokens import token_lookup, token_matches


class LisTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer alllab_<lookup>_<secret>``; a revoked or unknown token is a 401, never anonymous."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[AbstractBaseUser, LisClient] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in {"bearer", "token"}:
            return None  # another scheme (Basic, ...): not ours to judge
        token = token.strip()
        lookup = token_lookup(token)
        if lookup is None:
            raise exceptions.AuthenticationFailed("Malformed API token.")
        client = LisClient.objects.select_related("lab", "user").filter(prefix=lookup).first()
        if client is None or not token_matches(token, client.token_hash):
            raise exceptions.AuthenticationFailed("Invalid API token.")
        if client.revoked_at is not None or not client.user.is_active:
            raise exceptions.AuthenticationFailed("This API token has been revoked.")
        lis_client_touch(client=client)
        return client.user, client

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (with WWW-Authenticate) rather than 403 when credentials are missing.
        return f'{self.keyword} realm="api"'
