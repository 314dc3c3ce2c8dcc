"""Reads about labs and roles. Every lab-isolated read in the project starts from :func:`lab_ids_for_user`."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from alllab.accounts.models import ADMIN_ROLES, REVIEW_ROLES, Lab, Membership


def lab_ids_for_user(*, user: User | AnonymousUser, roles: Iterable[str] | None = None) -> list[int]:
    """Ids of the labs ``user`` belongs to (with one of ``roles`` when given); none for anonymous or inactive users."""
    if not user.is_authenticated or not user.is_active:
        return []
    memberships = Membership.objects.filter(user=user)
    if roles is not None:
        memberships = memberships.filter(role__in=list(roles))
    return list(memberships.values_list("lab_id", flat=True))


def lab_list(*, user: User | AnonymousUser, roles: Iterable[str] | None = None) -> QuerySet[Lab]:
    """The labs ``user`` belongs to, optionally only those where they hold one of ``roles``."""
    return Lab.objects.filter(id__in=lab_ids_for_user(user=user, roles=roles))


def user_roles(*, user: User | AnonymousUser) -> set[str]:
    """Every role ``user`` holds in any lab."""
    if not user.is_authenticated or not user.is_active:
        return set()
    return set(Membership.objects.filter(user=user).values_list("role", flat=True))


def user_can_review(*, user: User | AnonymousUser, lab: Lab) -> bool:
    """Whether ``user`` may review results in ``lab``."""
    return lab.id in lab_ids_for_user(user=user, roles=REVIEW_ROLES)


def user_is_lab_admin(*, user: User | AnonymousUser) -> bool:
    """Whether ``user`` administers at least one lab (and so may use the admin site)."""
    return bool(lab_ids_for_user(user=user, roles=ADMIN_ROLES))
