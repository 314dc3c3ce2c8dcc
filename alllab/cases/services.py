"""Writes of cases and slides. Each checks the user's role in the lab, so the web pages and the API share the rule."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from alllab.accounts.models import Lab
from alllab.accounts.selectors import user_can_write_cases
from alllab.cases.models import Case, Slide


def _require_writer(user: AbstractBaseUser, lab: Lab) -> None:
    if not user_can_write_cases(user=user, lab=lab):
        raise PermissionDenied("Only the lab's technicians and lab admins may create cases and upload slides.")


def case_create(
    *,
    lab: Lab,
    accession_number: str,
    patient_pseudonym: str,
    created_by: AbstractBaseUser,
    specimen_date: dt.date | None = None,
) -> Case:
    """Create a case in ``lab``; ``ValidationError`` if the accession number is already used in that lab."""
    _require_writer(created_by, lab)
    case = Case(
        lab=lab,
        accession_number=accession_number.strip(),
        patient_pseudonym=patient_pseudonym.strip(),
        specimen_date=specimen_date,
        created_by=created_by,
    )
    case.full_clean()
    case.save()
    return case


def _sha256(uploaded: UploadedFile) -> str:
    digest = hashlib.sha256()
    for chunk in uploaded.chunks():
        digest.update(chunk)
    uploaded.seek(0)
    return digest.hexdigest()


def slide_create(*, case: Case, uploaded_file: UploadedFile, uploaded_by: AbstractBaseUser) -> Slide:
    """Check an uploaded smear, store a metadata-free copy under a generated name, and queue its analysis.

    The image is decoded before anything is written (``alllab.analysis.intake.image_clean``), outside the
    transaction, so a slow decode never holds a database lock. An upload that is empty, oversized, not an image,
    truncated or has too many pixels is refused (``UploadRejected``, a ``ValidationError`` carrying an HTTP status)
    and the case stays as it was. The uploader's file name is kept as text only.
    """
    # Imported here: analysis builds on cases, not the other way round at import time.
    from alllab.analysis.intake import UploadRejected, image_clean

    _require_writer(uploaded_by, case.lab)
    limit = settings.ALLLAB_MAX_UPLOAD_MB * 1024 * 1024
    name = uploaded_file.name or "upload"
    if not uploaded_file.size:
        raise UploadRejected(f"{name} is empty.", code="empty")
    if uploaded_file.size > limit:
        raise UploadRejected(f"{name} is larger than {settings.ALLLAB_MAX_UPLOAD_MB} MB.", code="too_large")
    sha256 = _sha256(uploaded_file)
    clean = image_clean(uploaded_file.read(), name=name)
    uploaded_file.seek(0)
    return _slide_store(
        case=case,
        original_filename=name[:255],
        size_bytes=uploaded_file.size,
        sha256=sha256,
        content=ContentFile(clean.content, name=f"upload{clean.suffix}"),
        uploaded_by=uploaded_by,
    )


@transaction.atomic
def _slide_store(
    *,
    case: Case,
    original_filename: str,
    size_bytes: int,
    sha256: str,
    content: ContentFile,
    uploaded_by: AbstractBaseUser,
) -> Slide:
    slide = Slide(
        case=case,
        original_filename=original_filename,
        size_bytes=size_bytes,
        sha256=sha256,
        uploaded_by=uploaded_by,
    )
    slide.image.save(content.name, content, save=False)
    slide.save()
    from alllab.analysis.services import run_enqueue

    run_enqueue(slide=slide)
    return slide


def case_set_result(*, case: Case, status: str, summary: dict | None) -> None:
    """Store a case's status and its summary (``inference.types.Summary.to_json()`` shape, or None to clear)."""
    summary = summary or {}
    ci = summary.get("blast_fraction_ci95") or (None, None)
    Case.objects.filter(pk=case.pk).update(
        status=status,
        n_cells=summary.get("n_cells"),
        n_blast=summary.get("n_blast"),
        blast_fraction=summary.get("blast_fraction"),
        blast_fraction_ci95_lo=ci[0],
        blast_fraction_ci95_hi=ci[1],
        max_p_blast=summary.get("max_p_blast"),
        call=summary.get("call", ""),
        updated_at=timezone.now(),
    )
