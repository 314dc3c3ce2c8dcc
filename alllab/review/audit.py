"""Audit receivers: sign-ins, uploads and deletions, which happen outside the review app's services.

Reclassifications, sign-offs and amendments are recorded by ``services`` itself. For the events here a signal is the
only hook that does not reach into other apps' code; ``AuditRequestMiddleware`` keeps the current request in a
context variable so a deletion made from the admin or the API is credited to the person who made it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

from alllab.cases.models import Case, Slide
from alllab.review.models import AuditEvent
from alllab.review.services import audit_record

_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar("alllab_audit_request", default=None)


class AuditRequestMiddleware:
    """Remember the request being served, so signal receivers can say who acted."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


def current_actor():
    """The signed-in user of the request being served (DRF copies a token's user onto it), else None."""
    request = _request.get()
    user = getattr(request, "user", None) if request is not None else None
    return user if user is not None and user.is_authenticated else None


@receiver(user_logged_in, dispatch_uid="review_audit_login")
def _on_login(sender, request, user, **kwargs) -> None:
    audit_record(action=AuditEvent.Action.LOGIN, actor=user, object_type="user", object_id=user.pk)


@receiver(user_logged_out, dispatch_uid="review_audit_logout")
def _on_logout(sender, request, user, **kwargs) -> None:
    if user is not None:
        audit_record(action=AuditEvent.Action.LOGOUT, actor=user, object_type="user", object_id=user.pk)


@receiver(user_login_failed, dispatch_uid="review_audit_login_failed")
def _on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    # The username tried, never the password (Django has already masked it, but it is not needed either).
    audit_record(
        action=AuditEvent.Action.LOGIN_FAILED, actor=None, detail={"username": str(credentials.get("username", ""))}
    )


@receiver(post_save, sender=Slide, dispatch_uid="review_audit_upload")
def _on_slide_saved(sender, instance: Slide, created: bool, raw: bool = False, **kwargs) -> None:
    if not created or raw:
        return
    audit_record(
        action=AuditEvent.Action.UPLOAD,
        actor=instance.uploaded_by,
        case=instance.case,
        object_type="slide",
        object_id=instance.pk,
        detail={"filename": instance.original_filename, "sha256": instance.sha256, "size_bytes": instance.size_bytes},
    )


@receiver(post_delete, sender=Slide, dispatch_uid="review_audit_slide_deleted")
def _on_slide_deleted(sender, instance: Slide, **kwargs) -> None:
    audit_record(
        action=AuditEvent.Action.DELETE,
        actor=current_actor(),
        case=Case(pk=instance.case_id, lab_id=_lab_id_of_case(instance.case_id)),
        object_type="slide",
        object_id=instance.pk,
        detail={"filename": instance.original_filename, "sha256": instance.sha256},
    )


@receiver(post_delete, sender=Case, dispatch_uid="review_audit_case_deleted")
def _on_case_deleted(sender, instance: Case, **kwargs) -> None:
    audit_record(
        action=AuditEvent.Action.DELETE,
        actor=current_actor(),
        case=instance,
        object_type="case",
        object_id=instance.pk,
        detail={"accession_number": instance.accession_number},
    )


def _lab_id_of_case(case_id: int) -> int | None:
    # During a case's cascade the case row may already be gone; its own post_delete records the lab then.
    return Case.objects.filter(pk=case_id).values_list("lab_id", flat=True).first()
