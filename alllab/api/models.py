"""API clients: one row per laboratory information system (LIS) allowed to call the API for one lab."""

from django.conf import settings
from django.db import models


class LisClient(models.Model):
    """A machine client with one bearer token, scoped to exactly one lab.

    Only a SHA-256 of the token is stored; ``prefix`` (the token's first characters, not secret on its own) finds the
    row without scanning every hash. A revoked client keeps its row, so the audit trail of who called still resolves.
    ``user`` is a service account with no usable password: cases and slides record who made them as a user, so what a
    client creates shows up as made by ``lis:<name>``.
    """

    name = models.CharField(max_length=100)
    lab = models.ForeignKey("accounts.Lab", on_delete=models.PROTECT, related_name="lis_clients")
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="lis_client")
    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)  # hex sha256 of the whole token
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["lab", "name"]
        constraints = [models.UniqueConstraint(fields=["lab", "name"], name="lis_client_name_unique_per_lab")]

    def __str__(self) -> str:
        return f"{self.name} ({self.lab})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class CaseOrder(models.Model):
    """What an order-entry call said about a case beyond the case itself: clinical notes and a result callback.

    Kept here, one row per case made through the API, so nothing a LIS sends is dropped while the case model has no
    place for it. ``client`` is empty when a signed-in user made the call.
    """

    case = models.OneToOneField("cases.Case", on_delete=models.CASCADE, related_name="order")
    client = models.ForeignKey(LisClient, on_delete=models.SET_NULL, null=True, blank=True, related_name="orders")
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
