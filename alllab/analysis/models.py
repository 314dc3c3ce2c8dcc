"""Analysis runs (one model applied to one slide) and the white cells each run found."""

from __future__ import annotations

from django.db import models

from alllab.cases.models import Slide
from alllab.cases.summary_fields import SummaryFields


class AnalysisRun(SummaryFields):
    """One analysis of one slide by one model version: the row the worker claims and the pages read.

    Re-analysing a slide creates a new run and keeps the old one; a slide's current run is its latest.
    Its summary (``SummaryFields``) is the predictor's ``inference.types.Summary``, stored once; read it back with
    ``alllab.analysis.summaries.summary_read``.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    slide = models.ForeignKey(Slide, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    model_name = models.CharField(max_length=100, blank=True)  # with model_version: set when the worker loads it
    model_sha256 = models.CharField(max_length=64, blank=True)  # of the weights that made it (set with the version)
    # The lab's registered model that made it; empty for runs before the registry or by the unregistered shipped model.
    lab_model = models.ForeignKey(
        "labmodels.LabModel", on_delete=models.PROTECT, null=True, blank=True, related_name="runs"
    )
    # The Celery node that claimed it last ("celery@host", the task request's hostname); empty until claimed.
    worker = models.CharField(max_length=255, blank=True)
    progress = models.FloatField(default=0.0)  # 0..1, written by the worker while it runs
    error = models.TextField(blank=True)  # a reason a person can read, when failed
    attempts = models.PositiveSmallIntegerField(default=0)
    timings_ms = models.JSONField(default=dict, blank=True)
    quality = models.JSONField(default=dict, blank=True)  # focus, stain, flags of the smear
    rbc_diameter_px = models.FloatField(null=True, blank=True)
    # The checkpoint's operating point the run was called with (``inference.operating.OperatingPoint.to_dict``);
    # empty until the run is done, and for runs stored before it was recorded (those used the legacy 0.5).
    operating_point = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["slide", "-created_at"], name="run_slide_latest")]

    def __str__(self) -> str:
        return f"run {self.pk} of slide {self.slide_id} ({self.status})"


class Cell(models.Model):
    """A white cell found by a run: where it is, its crop, and the model's probability that it is a blast."""

    class Label(models.TextChoices):
        """What the model knows: blast or not. "Non-blast" holds lymphocytes, neutrophils, smudges and cut cells alike,
        so it is never shown as "normal"; the reviewer's differential (``review.ReviewLabel``) names the class."""

        BLAST = "blast", "Blast"
        NON_BLAST = "non_blast", "Non-blast"

    run = models.ForeignKey(AnalysisRun, on_delete=models.CASCADE, related_name="cells")
    index = models.PositiveIntegerField()  # the segmenter's region id; names the crop file
    bbox_x = models.PositiveIntegerField()
    bbox_y = models.PositiveIntegerField()
    bbox_w = models.PositiveIntegerField()
    bbox_h = models.PositiveIntegerField()
    centroid_x = models.FloatField()
    centroid_y = models.FloatField()
    area_px = models.PositiveIntegerField()
    touches_border = models.BooleanField(default=False)
    contour = models.JSONField(default=list)  # [[x, y], ...] in smear pixels
    crop = models.FileField(upload_to="runs/", max_length=200)  # runs/<run_id>/cell_<index>.png
    heatmap = models.FileField(upload_to="runs/", max_length=200, blank=True)  # runs/<run_id>/heatmap_<index>.png
    p_blast = models.FloatField()
    ai_label = models.CharField(max_length=10, choices=Label.choices)

    # Review fields (the pathologist's label, who, when) are added by the review app's migration.

    class Meta:
        ordering = ["-p_blast", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="cell_index_unique_per_run")]

    def __str__(self) -> str:
        return f"cell {self.index} of run {self.run_id} (p={self.p_blast:.2f})"

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        return (self.bbox_x, self.bbox_y, self.bbox_w, self.bbox_h)
