"""The pathologist's review: a label per cell, the signed report versions, and the audit trail.

The review lives beside the analysis, not in it: ``CellReview`` points at a ``Cell`` one-to-one, so the model's label
(``Cell.ai_label``) is never overwritten and agreement between the two can always be measured.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from alllab.accounts.models import Lab
from alllab.analysis.models import Cell
from alllab.analysis.summaries import NEGATIVE_MIN_CELLS
from alllab.cases.models import Case


class ReviewLabel(models.TextChoices):
    """What a reviewer may call a cell: the white-cell differential a lab reports, then two classes it does not count.

    The white classes (blast ... other white cell) are the differential's denominator; a smudge cell or artefact
    (which includes a cell cut by the image border) and an unsure cell are counted but never in a percentage.
    """

    BLAST = "blast", "Blast"
    LYMPHOCYTE = "lymphocyte", "Lymphocyte"
    NEUTROPHIL = "neutrophil", "Neutrophil"
    MONOCYTE = "monocyte", "Monocyte"
    EOSINOPHIL = "eosinophil", "Eosinophil"
    BASOPHIL = "basophil", "Basophil"
    OTHER_WBC = "other_wbc", "Other white cell"
    ARTEFACT = "artefact", "Smudge cell or artefact"
    UNSURE = "unsure", "Unsure"


WHITE_CELL_LABELS = (
    ReviewLabel.BLAST,
    ReviewLabel.LYMPHOCYTE,
    ReviewLabel.NEUTROPHIL,
    ReviewLabel.MONOCYTE,
    ReviewLabel.EOSINOPHIL,
    ReviewLabel.BASOPHIL,
    ReviewLabel.OTHER_WBC,
)
# A manual differential on fewer white cells is too imprecise to report without a warning; the same number as the
# screen's minimum for a negative (inference.summary.NEGATIVE_MIN_CELLS), so the reviewed and the AI call agree on it.
MIN_REVIEWED_WHITE_CELLS = NEGATIVE_MIN_CELLS


class CellReview(models.Model):
    """A reviewer's label for one cell; the latest word wins, and every change is also an ``AuditEvent``."""

    cell = models.OneToOneField(Cell, on_delete=models.CASCADE, related_name="review")
    label = models.CharField(max_length=12, choices=ReviewLabel.choices)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reviewed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"cell {self.cell_id}: {self.label}"


class ImmutableError(Exception):
    """Raised on an attempt to change or delete a signed report version."""


class ReportVersion(models.Model):
    """One signed report of a case, frozen: version 1 is the final report, later versions are amendments.

    ``snapshot`` holds everything the report said (counts, differential, interpretation, signer, time) as JSON, so
    the report can be shown again exactly as signed whatever happens to the cells later. A saved row is never
    updated or deleted (``save`` and ``delete`` refuse); a change is a new version with a reason.
    """

    class Kind(models.TextChoices):
        FINAL = "final", "Final"
        AMENDED = "amended", "Amended"

    class Interpretation(models.TextChoices):
        BLASTS_PRESENT = "blasts_present", "Blasts present: suggest flow cytometry"
        NO_BLASTS = "no_blasts", "No blasts seen"
        INSUFFICIENT = "insufficient", "Insufficient for an opinion: suggest a repeat smear"
        FREE_TEXT = "free_text", "Other (free text)"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="report_versions")
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    interpretation = models.CharField(max_length=20, choices=Interpretation.choices)
    interpretation_text = models.TextField(blank=True)  # the free text, or a comment on a chosen interpretation
    amendment_reason = models.TextField(blank=True)
    snapshot = models.JSONField()
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField()

    class Meta:
        ordering = ["case", "number"]
        constraints = [
            models.UniqueConstraint(fields=["case", "number"], name="report_version_unique_number"),
            models.CheckConstraint(
                condition=models.Q(kind="final", number=1) | models.Q(kind="amended", number__gt=1),
                name="report_version_kind_matches_number",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case} v{self.number} ({self.kind})"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ImmutableError("A signed report version cannot be changed; issue an amendment instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("A signed report version cannot be deleted.")


class AuditEvent(models.Model):
    """Who did what, when: reclassifications, sign-offs, amendments, uploads, deletions, logins, exports.

    ``case`` and ``lab`` are kept without a database constraint, so the record of a deletion outlives what was
    deleted; ``actor_name`` keeps the username for the same reason.
    """

    class Action(models.TextChoices):
        LOGIN = "login", "Signed in"
        LOGOUT = "logout", "Signed out"
        LOGIN_FAILED = "login_failed", "Failed sign-in"
        UPLOAD = "upload", "Uploaded a slide"
        DELETE = "delete", "Deleted"
        RECLASSIFY = "reclassify", "Reclassified a cell"
        SIGN_OFF = "sign_off", "Signed off"
        AMEND = "amend", "Amended"
        EXPORT = "export", "Exported reviewed cells"
        MODEL_ADAPT = "model_adapt", "Started adapting the lab's model"
        MODEL_ACTIVATE = "model_activate", "Activated a lab model"
        MODEL_ROLLBACK = "model_rollback", "Rolled back the lab model"

    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices, db_index=True)
    lab = models.ForeignKey(
        Lab, on_delete=models.DO_NOTHING, db_constraint=False, null=True, blank=True, related_name="+"
    )
    case = models.ForeignKey(
        Case, on_delete=models.DO_NOTHING, db_constraint=False, null=True, blank=True, related_name="+"
    )
    object_type = models.CharField(max_length=30, blank=True)  # "cell", "slide", "case", "report_version"
    object_id = models.CharField(max_length=40, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["case", "-at"], name="audit_case_latest")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name or '-'} {self.action}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ImmutableError("An audit event is written once and never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("An audit event cannot be deleted.")
