"""A case (one patient specimen) and its slides (smear images)."""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django.conf import settings
from django.db import models

from alllab.accounts.models import Lab
from alllab.cases.summary_fields import SummaryFields

# Stored names never come from the uploader; only the extension survives, and only when it is one we read.
KNOWN_IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp"})


def slide_upload_to(slide: Slide, filename: str) -> str:
    """``slides/<lab id>/<random hex><known suffix>``: no patient data or user text in a path."""
    suffix = PurePath(filename).suffix.lower()
    suffix = suffix if suffix in KNOWN_IMAGE_SUFFIXES else ""
    return f"slides/{slide.case.lab_id}/{uuid.uuid4().hex}{suffix}"


class Case(SummaryFields):
    """One specimen from one patient, submitted by a lab for screening; holds the case-level result.

    Its summary (``SummaryFields``) is ``inference.summary.summarize`` over the cells of every slide's current run,
    stored by ``alllab.analysis`` and read back with ``alllab.analysis.summaries.summary_read``, so every page and report
    reads the same numbers.
    """

    class Status(models.TextChoices):
        NEW = "new", "New"  # no slide yet
        ANALYSING = "analysing", "Analysing"  # at least one slide queued or running
        AWAITING_REVIEW = "awaiting_review", "Awaiting review"  # every slide's current run finished
        SIGNED_OFF = "signed_off", "Signed off"  # a pathologist signed the result (review app)

    lab = models.ForeignKey(Lab, on_delete=models.PROTECT, related_name="cases")
    accession_number = models.CharField(max_length=64)
    patient_pseudonym = models.CharField(
        max_length=64, help_text="A pseudonymous patient id: never a name or a national identifier."
    )
    specimen_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["lab", "accession_number"], name="case_accession_unique_per_lab")
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.accession_number


class Slide(models.Model):
    """One smear image of a case. The stored file has a generated name; the uploader's name is kept as text only."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="slides")
    image = models.FileField(upload_to=slide_upload_to, max_length=200)
    original_filename = models.CharField(max_length=255)
    size_bytes = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    width = models.PositiveIntegerField(null=True, blank=True)  # set once the worker has decoded the image
    height = models.PositiveIntegerField(null=True, blank=True)
    # A JPEG of the decoded pixels, written by the worker: browsers cannot show TIFF or BMP, and it carries no EXIF.
    preview = models.FileField(upload_to="previews/", max_length=200, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return f"{self.case} / {self.original_filename}"
