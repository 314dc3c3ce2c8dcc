"""``manage.py send_hl7 CASE_ID --host H --port P``: send a case's ORU^R01 over MLLP and report the ACK.

Exits non-zero when the receiver rejects the message or cannot be reached, so a cron job or an operator notices.
The command runs with operator rights (no lab scoping): it is for the lab's own integration staff.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from alllab.accounts.scope import SYSTEM
from alllab.analysis.selectors import current_runs_for_case
from alllab.cases.models import Case
from alllab.interop.adapters import report_data_for_case
from alllab.interop.hl7 import hl7_oru_er7
from alllab.interop.mllp import MllpError, mllp_send


class Command(BaseCommand):
    help = "Send a case's results as HL7 v2.5.1 ORU^R01 over MLLP and wait for the ACK."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("case_id", type=int)
        parser.add_argument("--host", required=True)
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--timeout", type=float, default=10.0, help="Seconds to connect and to wait for the ACK.")
        parser.add_argument("--receiving-application", default="", help="MSH-5.")
        parser.add_argument("--receiving-facility", default="", help="MSH-6.")
        parser.add_argument("--print", action="store_true", help="Also print the message sent.")

    def handle(self, *args, case_id: int, host: str, port: int, timeout: float, **options) -> None:
        case = Case.objects.select_related("lab").filter(pk=case_id).first()
        if case is None:
            raise CommandError(f"No case {case_id}.")
        # An operator's command run on the server, not a caller's request: a system job, so the SYSTEM scope.
        runs = {r.slide_id: r for r in current_runs_for_case(scope=SYSTEM, case=case)}
        slides = [(s, runs.get(s.pk)) for s in case.slides.all()]
        message = hl7_oru_er7(
            report=report_data_for_case(case=case, slides=slides),
            receiving_application=options["receiving_application"],
            receiving_facility=options["receiving_facility"],
        )
        if options["print"]:
            self.stdout.write(message.replace("\r", "\n"))
        try:
            ack = mllp_send(message, host=host, port=port, timeout=timeout)
        except MllpError as exc:
            raise CommandError(f"Not delivered: {exc}") from exc
        if not ack.accepted:
            raise CommandError(f"Rejected by {host}:{port}: {ack.code} {ack.text}".rstrip())
        self.stdout.write(f"Delivered case {case.accession_number} to {host}:{port}: {ack.code} ({ack.control_id}).")
