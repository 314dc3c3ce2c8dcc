"""Orders from a laboratory information system: what an order said beyond the case, and its result callback."""

from django.db import models


class CaseOrder(models.Model):
    """What an order-entry call said about a case beyond the case itself: clinical notes and a result callback.

    One row per case made through the API (``alllab.api.services.case_order_create``), so nothing a LIS sends is
    dropped while the case model has no place for it. ``client`` is empty when a signed-in user made the call.
    """

    case = models.OneToOneField("cases.Case", on_delete=models.CASCADE, related_name="order")
    client = models.ForeignKey(
        "accounts.LisClient", on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    clinical_notes = models.TextField(blank=True, max_length=4000)
    callback_url = models.URLField(blank=True, max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)
    # The callback for one set of finished runs is claimed once (``callback_runs`` holds their ids), so a task that
    # finishes twice, or two workers finishing the last two slides together, send it once.
    callback_runs = models.CharField(max_length=500, blank=True)
    callback_status = models.CharField(max_length=10, blank=True)  # "" | pending | delivered | failed
    callback_attempts = models.PositiveSmallIntegerField(default=0)
    callback_error = models.CharField(max_length=500, blank=True)
    callback_delivered_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"order for {self.case}"
