"""Writes for API clients: create, revoke, record use."""

from __future__ import annotations

import datetime as dt
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from alllab.accounts.models import Lab, LisClient, Membership
from alllab.accounts.scope import Scope
from alllab.accounts.services import membership_create
from alllab.api.selectors import api_case_by_accession
from alllab.api.tokens import token_generate, token_hash
from alllab.cases.models import Case
from alllab.cases.services import case_create
from alllab.interop.models import CaseOrder

# Recording every request would turn each read into a write; a minute's precision is enough to spot unused tokens.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@transaction.atomic
def lis_client_create(*, name: str, lab: Lab) -> tuple[LisClient, str]:
    """Create a client for ``lab`` with its service user, and return it with its token (shown once, never stored).

    The service user has no usable password (it cannot log in to the pages) and a technician membership in ``lab``
    only, so the cases services accept it as the creator of cases and slides.

    Raises:
        django.core.exceptions.ValidationError: If the name is blank or already used in this lab.
    """
    name = name.strip()
    client = LisClient(name=name, lab=lab)
    client.full_clean(exclude=["user", "prefix", "token_hash"])
    username = f"lis-{lab.slug}-{slugify(name)}"[:140]
    user_model = get_user_model()
    base, n = username, 1
    while user_model.objects.filter(username=username).exists():
        n += 1
        username = f"{base}-{n}"
    user = user_model.objects.create_user(username=username, password=None)  # unusable password
    membership_create(user=user, lab=lab, role=Membership.Role.TECHNICIAN)
    token, lookup = token_generate()
    client.user, client.prefix, client.token_hash = user, lookup, token_hash(token)
    client.save()
    return client, token


@transaction.atomic
def lis_client_revoke(*, client: LisClient) -> LisClient:
    """Revoke a client's token from now on and deactivate its service user; revoking twice keeps the first time."""
    LisClient.objects.filter(pk=client.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    get_user_model().objects.filter(pk=client.user_id).update(is_active=False)
    client.refresh_from_db(fields=["revoked_at"])
    return client


def lis_client_touch(*, client: LisClient) -> None:
    """Record that ``client`` was used, at most once per ``LAST_USED_RESOLUTION``."""
    now = timezone.now()
    LisClient.objects.filter(pk=client.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)


class OrderConflict(Exception):
    """The accession number exists in the lab for a different patient: refusing beats merging two patients."""


def case_order_create(
    *,
    scope: Scope,
    lab: Lab,
    user: User,
    accession_number: str,
    patient_id: str = "",
    specimen_date: dt.date | None = None,
    clinical_notes: str = "",
    callback_url: str = "",
) -> tuple[Case, bool]:
    """Create a case from a LIS order, or return the one that already has this accession number in ``lab``.

    Idempotent, so a LIS may resend an order after a timeout: the second call returns ``(case, False)`` and changes
    nothing. Two concurrent first calls race on the unique (lab, accession) constraint; the loser returns the winner's.

    Raises:
        OrderConflict: If the existing case has a different patient id.
        django.core.exceptions.ValidationError: For input the case model refuses.
        django.core.exceptions.PermissionDenied: If ``scope`` may not create cases in ``lab``.
    """
    existing = api_case_by_accession(scope=scope, lab_id=lab.pk, accession_number=accession_number)
    if existing is None:
        try:
            with transaction.atomic():
                case = case_create(
                    scope=scope,
                    lab=lab,
                    accession_number=accession_number,
                    patient_pseudonym=patient_id,
                    created_by=user,
                    specimen_date=specimen_date,
                )
                order = CaseOrder(
                    case=case, client=scope.client, clinical_notes=clinical_notes, callback_url=callback_url
                )
                order.full_clean()
                order.save()
            return case, True
        except (IntegrityError, ValidationError) as exc:
            existing = api_case_by_accession(scope=scope, lab_id=lab.pk, accession_number=accession_number)
            if existing is None:
                raise
            if isinstance(exc, ValidationError) and set(exc.message_dict) - {"__all__", "accession_number"}:
                raise  # a real input problem, not only the duplicate accession
    if patient_id.strip() and existing.patient_pseudonym != patient_id.strip():
        raise OrderConflict(
            f"Accession {existing.accession_number} already exists in this lab for a different patient id."
        )
    return existing, False
