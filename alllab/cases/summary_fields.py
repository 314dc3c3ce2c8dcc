"""The stored columns of a result summary, shared by a case and an analysis run.

One abstract model, so the case and each run store the same columns. It lives here, in ``cases``, because ``Case``
needs it and ``cases`` sits below ``analysis``; it names no engine type, since only ``alllab.analysis`` imports
``inference``. ``alllab.analysis.summaries`` is the one converter between these columns and the engine's
``inference.types.Summary`` (``summary_read`` reads, ``summary_columns`` writes): every reader above ``analysis`` gets
that type, never the columns.
"""

from __future__ import annotations

from django.db import models


class SummaryFields(models.Model):
    """The columns of ``inference.types.Summary``; all empty (``n_cells`` None, ``call`` "") until there is one."""

    class Call(models.TextChoices):
        SUSPICIOUS = "suspicious", "Suspicious"
        NEGATIVE = "negative", "Negative"
        INSUFFICIENT = "insufficient", "Insufficient"
        UNVALIDATED = "unvalidated", "Unvalidated"  # images unlike the model's validation data (inference.summary)

    n_cells = models.PositiveIntegerField(null=True, blank=True)
    n_blast = models.PositiveIntegerField(null=True, blank=True)
    blast_fraction = models.FloatField(null=True, blank=True)
    blast_fraction_ci95_lo = models.FloatField(null=True, blank=True)
    blast_fraction_ci95_hi = models.FloatField(null=True, blank=True)
    max_p_blast = models.FloatField(null=True, blank=True)
    call = models.CharField(max_length=20, choices=Call.choices, blank=True, db_index=True)
    flags = models.JSONField(default=list, blank=True)  # the quality flags the call was made with
    model_version = models.CharField(max_length=100, blank=True)

    class Meta:
        abstract = True

    @property
    def has_summary(self) -> bool:
        """True once a summary is stored (a run that finished, a case with a finished slide)."""
        return self.n_cells is not None and bool(self.call)
