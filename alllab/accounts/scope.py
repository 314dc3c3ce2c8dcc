"""Which labs a caller may read and write: one ``Scope``, made from a session user or a LIS client's token.

Every selector and service that reads or writes lab data takes a scope, so the rule lives here and nowhere else: a
user sees the labs they are a member of and writes (creates cases, uploads slides) where their role allows it; a LIS
client sees and writes its one lab, whatever memberships its service user has. ``SYSTEM`` is the scope of the
worker, the sweeper and the callbacks: code that acts on a run or case it was handed, never on a caller's request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db.models import Model, QuerySet

from alllab.accounts.models import CASE_WRITE_ROLES, LisClient
from alllab.accounts.selectors import lab_ids_for_user

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Scope:
    """The labs a caller sees (``lab_ids``) and may create cases and slides in (``write_lab_ids``)."""

    lab_ids: tuple[int, ...]
    write_lab_ids: tuple[int, ...]
    client: LisClient | None = None  # the LIS client, when the caller is one
    system: bool = False  # every lab: the worker's own reads (``SYSTEM``), never a request's

    def can_read(self, lab_id: int | None) -> bool:
        return self.system or lab_id in self.lab_ids

    def can_write(self, lab_id: int | None) -> bool:
        return self.system or lab_id in self.write_lab_ids

    def narrow(self, qs: QuerySet[M], lab_field: str = "lab_id") -> QuerySet[M]:
        """``qs`` limited to the readable labs, ``lab_field`` naming the lab (``"slide__case__lab_id"``)."""
        return qs if self.system else qs.filter(**{f"{lab_field}__in": self.lab_ids})


SYSTEM = Scope(lab_ids=(), write_lab_ids=(), system=True)


def scope_for_user(user: AbstractBaseUser | AnonymousUser) -> Scope:
    """A signed-in user's scope: their memberships (writable where the role may create cases); none if anonymous."""
    if not isinstance(user, User):  # the project's user model is auth's User; anyone else (anonymous) has no lab
        return Scope(lab_ids=(), write_lab_ids=())
    return Scope(
        lab_ids=tuple(lab_ids_for_user(user=user)),
        write_lab_ids=tuple(lab_ids_for_user(user=user, roles=CASE_WRITE_ROLES)),
    )


def scope_for_client(client: LisClient) -> Scope:
    """A LIS client's scope: its one lab, to read and write; nothing once revoked."""
    lab = (client.lab_id,) if client.is_active else ()
    return Scope(lab_ids=lab, write_lab_ids=lab, client=client)


def scope_role_lab_ids(*, scope: Scope, user: User | AnonymousUser | None, roles: Iterable[str]) -> list[int]:
    """The labs of ``scope`` where ``user`` holds one of ``roles``: lab access from the scope, the role from the user.

    A role-based read (audit trail, reviewed-cell export, adaptation) asks both: a LIS client's scope keeps its one
    lab even when its service user is a member of others, and ``SYSTEM`` adds no role.
    """
    if user is None:
        return []
    return [i for i in lab_ids_for_user(user=user, roles=roles) if scope.can_read(i)]
