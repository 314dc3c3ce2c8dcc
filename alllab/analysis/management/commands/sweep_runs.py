"""``manage.py sweep_runs [--every SECONDS]``: send unsent runs again, re-queue or fail runs whose worker died."""

import time
from datetime import timedelta

from django.core.management.base import BaseCommand

from alllab.analysis.sweeper import runs_sweep


class Command(BaseCommand):
    help = (
        "Send queued runs the broker never got, re-queue runs stuck in 'running' (their worker died), and fail those "
        "that used up their attempts. Celery beat runs the same sweep every minute; this is for a cron job or a shell."
    )

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=0, metavar="SECONDS", help="repeat forever at this interval")
        parser.add_argument(
            "--stuck-after",
            type=float,
            default=None,
            metavar="SECONDS",
            help="how long a run may stay running (default: the task's hard time limit)",
        )

    def handle(self, *args, every, stuck_after, **options):
        stuck = timedelta(seconds=stuck_after) if stuck_after else None
        while True:
            report = runs_sweep(stuck_after=stuck)
            self.stdout.write(
                f"sent {report.sent} requeued {report.requeued} failed {report.failed} unsent {report.unsent}"
            )
            if not every:
                return
            time.sleep(every)
