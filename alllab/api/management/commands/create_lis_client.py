"""``manage.py create_lis_client NAME --lab SLUG``: make an API token for one lab (printed once, on the last line).

``--revoke`` revokes the named client's token instead; ``--list`` shows a lab's clients and when each was last used.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from alllab.accounts.models import Lab, LisClient
from alllab.api.services import lis_client_create, lis_client_revoke


class Command(BaseCommand):
    help = "Create (or revoke) an API token for a laboratory information system, scoped to one lab."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", nargs="?", help="Client name, unique within the lab (e.g. 'hospital-lis').")
        parser.add_argument("--lab", required=True, help="Slug of the lab the token may act for.")
        parser.add_argument("--revoke", action="store_true", help="Revoke the named client's token.")
        parser.add_argument("--list", action="store_true", help="List the lab's clients.")

    def handle(self, *args, name: str | None, lab: str, revoke: bool, list: bool, **options) -> None:  # noqa: A002
        lab_obj = Lab.objects.filter(slug=lab).first()
        if lab_obj is None:
            raise CommandError(f"No lab with slug {lab!r}.")
        if list:
            for c in LisClient.objects.filter(lab=lab_obj).order_by("name"):
                state = f"revoked {c.revoked_at:%Y-%m-%d %H:%M}" if c.revoked_at else "active"
                used = f"{c.last_used_at:%Y-%m-%d %H:%M}" if c.last_used_at else "never"
                self.stdout.write(f"{c.name}\t{state}\tlast used {used}\tprefix alllab_{c.prefix}_")
            return
        if not name:
            raise CommandError("NAME is required.")
        if revoke:
            client = LisClient.objects.filter(lab=lab_obj, name=name).first()
            if client is None:
                raise CommandError(f"No client {name!r} in lab {lab!r}.")
            lis_client_revoke(client=client)
            self.stdout.write(f"Revoked {client.name} ({lab_obj.slug}) at {client.revoked_at:%Y-%m-%d %H:%M:%S %Z}.")
            return
        try:
            client, token = lis_client_create(name=name, lab=lab_obj)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            f"Created API client {client.name} for lab {lab_obj.slug}. Store the token now: it is not shown again."
        )
        self.stdout.write(token)
