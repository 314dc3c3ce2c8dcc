"""Labs, memberships and LIS clients. A user sees a lab's data only through a membership, and the role says what they
may do; a LIS client (a machine account) sees its one lab."""

from django.conf import settings
from django.db import models


class Lab(models.Model):
    """A laboratory: the unit of data isolation. Cases, slides and results belong to exactly one lab."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's place in one lab, with one role. A user may belong to several labs with different roles."""

    class Role(models.TextChoices):
        TECHNICIAN = "technician", "Technician"  # creates cases, uploads slides
        PATHOLOGIST = "pathologist", "Pathologist"  # reviews results
        LAB_ADMIN = "lab_admin", "Lab admin"  # manages the lab's users

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    lab = models.ForeignKey(Lab, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "lab"], name="membership_one_per_user_and_lab")]
        ordering = ["lab__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.lab} ({self.get_role_display()})"


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


# What each role may do; the one place these rules live (selectors and views ask through accounts.selectors).
CASE_WRITE_ROLES = frozenset({Membership.Role.TECHNICIAN, Membership.Role.LAB_ADMIN})
REVIEW_ROLES = frozenset({Membership.Role.PATHOLOGIST})
ADMIN_ROLES = frozenset({Membership.Role.LAB_ADMIN})
