"""Writes about labs and memberships."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction

from alllab.accounts.models import Lab, Membership


def lab_create(*, name: str, slug: str) -> Lab:
    """Create a lab."""
    lab = Lab(name=name, slug=slug)
    lab.full_clean()
    lab.save()
    return lab


def membership_create(*, user: User, lab: Lab, role: str) -> Membership:
    """Give ``user`` a ``role`` in ``lab``; raises ``ValidationError`` for an unknown role or a second membership."""
    membership = Membership(user=user, lab=lab, role=role)
    membership.full_clean()
    membership.save()
    return membership


@transaction.atomic
def user_create(*, username: str, password: str, lab: Lab, role: str, email: str = "") -> User:
    """Create a user who belongs to ``lab`` with ``role``, in one transaction."""
    user = get_user_model().objects.create_user(username=username, password=password, email=email)
    membership_create(user=user, lab=lab, role=role)
    return user
