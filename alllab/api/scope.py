"""Which labs a request may read and write: the client's one lab for a token, the user's memberships for a session."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework.request import Request

from alllab.accounts.models import CASE_WRITE_ROLES
from alllab.accounts.selectors import lab_ids_for_user
from alllab.api.models import LisClient


@dataclass(frozen=True)
class Scope:
    """The labs a caller sees (``lab_ids``) and may create cases and slides in (``write_lab_ids``)."""

    lab_ids: tuple[int, ...]
    write_lab_ids: tuple[int, ...]
    client: LisClient | None = None


def scope_for_request(request: Request) -> Scope:
    """The caller's scope. A token is scoped to its lab alone, whatever memberships its service user has."""
    if isinstance(request.auth, LisClient):
        lab = (request.auth.lab_id,)
        return Scope(lab_ids=lab, write_lab_ids=lab, client=request.auth)
    return Scope(
        lab_ids=tuple(lab_ids_for_user(user=request.user)),
        write_lab_ids=tuple(lab_ids_for_user(user=request.user, roles=CASE_WRITE_ROLES)),
    )
