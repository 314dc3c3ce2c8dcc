"""The one way a smear enters: ``slide_create``, called by the upload page and the API alike.

It owns every rule an upload meets: who may upload, how large, which formats. Every upload is decoded once with
``inference.io.image_clean`` (the worker's own reader), so a file the worker could not read is refused at the door
with a clear message and an HTTP status instead of becoming a failed run, and what is stored carries no metadata.
It lives in ``analysis`` because it queues the run and because only ``analysis`` talks to ``inference``.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from alllab.accounts.scope import Scope
from alllab.analysis.dispatch import run_enqueue
from alllab.cases.models import Case, Slide
from alllab.cases.selectors import case_accepts_slides, case_signed_upload_message
from alllab.cases.services import WRITE_REFUSED
from inference.io import ImageError, image_clean

# The HTTP status for each ``ImageError.code`` (and the upload size check's): the page and the API use the same.
HTTP_STATUS = {
    "empty": 400,
    "truncated": 400,
    "not_an_image": 415,
    "unsupported": 415,
    "too_large": 413,
    "case_signed": 409,  # a signed case takes no new slide
}


class UploadRejected(ValidationError):
    """An upload refused before storage; ``code`` is one machine-readable word and ``status`` its HTTP status."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message, code=code)
        self.status = HTTP_STATUS.get(code, 400)


def upload_limit_bytes() -> int:
    """The largest upload accepted, in bytes (``ALLLAB_MAX_UPLOAD_MB``)."""
    return int(settings.ALLLAB_MAX_UPLOAD_MB) * 1024 * 1024


def slide_create(*, scope: Scope, case: Case, uploaded_file: UploadedFile, uploaded_by: User) -> Slide:
    """Check an uploaded smear, store a metadata-free copy under a generated name, and queue its analysis.

    The image is decoded before anything is written, outside the transaction, so a slow decode never holds a
    database lock. The uploader's file name is kept as text only. A signed-off case takes no new slide: checked
    first, and again under the case's row lock, so a sign-off that commits during the upload still wins.

    Raises:
        PermissionDenied: ``scope`` may not write in the case's lab (a user who is not its technician or lab admin).
        UploadRejected: Empty, larger than the limit, not an image, an unsupported format, truncated or too many
            pixels (a ``ValidationError`` carrying its HTTP status); the case stays as it was. Code ``case_signed``
            (409) when the case is signed off.
    """
    if not scope.can_write(case.lab_id):
        raise PermissionDenied(WRITE_REFUSED)
    _refuse_signed(case)
    name = uploaded_file.name or "upload"
    size = uploaded_file.size or 0
    if not size:
        raise UploadRejected(f"{name} is empty.", code="empty")
    if size > upload_limit_bytes():
        raise UploadRejected(f"{name} is larger than {settings.ALLLAB_MAX_UPLOAD_MB} MB.", code="too_large")
    uploaded_file.seek(0)
    data = uploaded_file.read()
    uploaded_file.seek(0)
    try:
        clean = image_clean(data, name=name)
    except ImageError as exc:
        raise UploadRejected(exc.message, code=exc.code) from None
    return _slide_store(
        case=case,
        original_filename=name[:255],
        size_bytes=size,
        sha256=hashlib.sha256(data).hexdigest(),
        content=ContentFile(clean.content, name=f"upload{clean.suffix}"),
        uploaded_by=uploaded_by,
    )


def _refuse_signed(case: Case) -> None:
    if not case_accepts_slides(case=case):
        raise UploadRejected(case_signed_upload_message(case=case), code="case_signed")


@transaction.atomic
def _slide_store(
    *,
    case: Case,
    original_filename: str,
    size_bytes: int,
    sha256: str,
    content: ContentFile,
    uploaded_by: User,
) -> Slide:
    _refuse_signed(Case.objects.select_for_update().get(pk=case.pk))  # sign-off and this upload: one at a time
    slide = Slide(
        case=case,
        original_filename=original_filename,
        size_bytes=size_bytes,
        sha256=sha256,
        uploaded_by=uploaded_by,
    )
    slide.image.save(content.name or "upload", content, save=False)
    slide.save()
    run_enqueue(slide=slide)
    return slide
