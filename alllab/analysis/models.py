"""Analysis runs (one model applied to one slide) and the white cells each run found."""

from __future__ import annotations

from django.db import models

from alllab.cases.models import Slide


class AnalysisRun(models.Model):
    """One analysis of one slide by one model version: the row the worker claims and the pages read.

    Re-analysing a slide creates a new run and keeps the old one; a slide's current run is its latest.
    The summary fields are ``inference.summary.summarize`` output, stored once.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    slide = models.ForeignKey(Slide, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    model_name = models.CharField(max_length=100, blank=True)  # filled when the worker loads the model
    model_version = models.CharField(max_length=100, blank=True)
    progress = models.FloatField(default=0.0)  # 0..1, written by the worker while it runs
    error = models.TextField(blank=True)  # a reason a person can read, when failed
    attempts = models.PositiveSmallIntegerField(default=0)
    timings_ms = models.JSONField(default=dict, blank=True)
    quality = models.JSONField(default=dict, blank=True)  # focus, stain, flags of the smear
    rbc_diameter_px = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    n_cells = models.PositiveIntegerField(null=True, blank=True)
    n_blast = models.PositiveIntegerField(null=True, blank=True)
    blast_fraction = models.FloatField(null=True, blank=True)
    blast_fraction_ci95_lo = models.FloatField(null=True, blank=True)
    blast_fraction_ci95_hi = models.FloatField(null=True, blank=True)
    max_p_blast = models.FloatField(null=True, blank=True)
    call = models.CharField(max_length=20, blank=True)  # suspicious | negative | insufficient

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["slide", "-created_at"], name="run_slide_latest")]

    def __str__(self) -> str:
        return f"run {self.pk} of slide {self.slide_id} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)


class Cell(models.Model):
    """A white cell found by a run: where it is, its crop, and the model's probability that it is a blast."""

    class Label(models.TextChoices):
        BLAST = "blast", "Blast"
        NORMAL = "normal", "Normal"

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
