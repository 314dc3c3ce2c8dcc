"""The lab model registry and its adaptation jobs.

A lab's model is data, not code: a row naming a stored checkpoint and the sha256 of its weights (the worker refuses a
file that does not hash to it). The shipped model appears as a row of kind ``shipped`` without a file of its own, so a
lab's history and rollback read the same way whichever model was active. At most one row per lab is active (a partial
unique index); a lab with no active row analyses with the shipped model.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from alllab.accounts.models import Lab


def checkpoint_upload_to(instance: LabModel, filename: str) -> str:
    """``lab_models/<lab id>/<random hex>.pt``: no user text in a path."""
    return f"lab_models/{instance.lab_id}/{uuid.uuid4().hex}.pt"


class LabModel(models.Model):
    """One model a lab may analyse with: the shipped one, or a version adapted from the lab's reviewed cells."""

    class Kind(models.TextChoices):
        SHIPPED = "shipped", "Shipped"
        ADAPTED = "adapted", "Adapted to this lab"

    class Status(models.TextChoices):
        CANDIDATE = "candidate", "Candidate"  # trained and scored, not used yet
        ACTIVE = "active", "Active"  # analyses new slides of the lab
        RETIRED = "retired", "Retired"  # was active once, replaced or rolled back

    lab = models.ForeignKey(Lab, on_delete=models.CASCADE, related_name="models")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CANDIDATE, db_index=True)
    name = models.CharField(max_length=100)  # architecture, e.g. hybrid_vgg
    version = models.CharField(max_length=100)
    sha256 = models.CharField(max_length=64, db_index=True)  # of the weights (inference.models.state_sha256)
    checkpoint = models.FileField(upload_to=checkpoint_upload_to, max_length=200, blank=True)  # empty when shipped
    base = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children")

    n_train_cells = models.PositiveIntegerField(default=0)
    n_train_cases = models.PositiveIntegerField(default=0)
    n_heldout_cells = models.PositiveIntegerField(default=0)
    n_heldout_cases = models.PositiveIntegerField(default=0)
    training_cell_ids = models.JSONField(default=list, blank=True)
    training_case_ids = models.JSONField(default=list, blank=True)
    heldout_case_ids = models.JSONField(default=list, blank=True)
    # {"base": {...}, "candidate": {...}, "gate": {"passed": bool, "rules": [...]}, "training": {...}}
    evaluation = models.JSONField(default=dict, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    activated_at = models.DateTimeField(null=True, blank=True)
    # The model that was active when this one was activated: what a rollback returns to.
    replaced = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["lab"], condition=Q(status="active"), name="lab_model_one_active_per_lab"),
            models.UniqueConstraint(fields=["lab"], condition=Q(kind="shipped"), name="lab_model_one_shipped_per_lab"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version} of lab {self.lab_id} ({self.status})"

    @property
    def gate_passed(self) -> bool:
        return bool(self.evaluation.get("gate", {}).get("passed"))


class AdaptationJob(models.Model):
    """One "Adapt to this lab" request: the frozen training set, live progress, and how it ended.

    ``training_set`` is fixed when the admin presses the button (``[{"cell": id, "case": id, "label": 0|1}]``), so
    the worker never reads review rows and a rerun trains on exactly the same cells.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    lab = models.ForeignKey(Lab, on_delete=models.CASCADE, related_name="adaptation_jobs")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    base_model = models.ForeignKey(LabModel, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    candidate = models.ForeignKey(LabModel, on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs")
    training_set = models.JSONField(default=list)
    n_cells = models.PositiveIntegerField(default=0)
    n_cases = models.PositiveIntegerField(default=0)
    stage = models.CharField(max_length=40, blank=True)  # "loading cells", "training", "scoring"
    progress = models.FloatField(default=0.0)  # 0..1
    epoch = models.PositiveIntegerField(default=0)
    max_epochs = models.PositiveIntegerField(default=0)
    # The rules the job was accepted under (minimum cases and cells, held-out fraction, epochs, patience, seed).
    params = models.JSONField(default=dict, blank=True)
    loss = models.FloatField(null=True, blank=True)
    val_loss = models.FloatField(null=True, blank=True)
    history = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A second "Adapt" while one is queued or running for the lab is refused by the database itself.
            models.UniqueConstraint(
                fields=["lab"], condition=Q(status__in=["queued", "running"]), name="adaptation_one_open_per_lab"
            )
        ]

    def __str__(self) -> str:
        return f"adaptation {self.pk} of lab {self.lab_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)
