"""``manage.py analyze_slide ID [ID ...]``: analyse slides again with the current model, each as a new run."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from alllab.analysis.dispatch import run_enqueue
from alllab.cases.models import Slide


class Command(BaseCommand):
    help = "Queue a new analysis run for each slide id (the old runs are kept; the new one becomes current)."

    def add_arguments(self, parser):
        parser.add_argument("slide_ids", nargs="+", type=int, metavar="ID")

    def handle(self, *args, slide_ids, **options):
        slides = Slide.objects.in_bulk(slide_ids)
        missing = sorted(set(slide_ids) - set(slides))
        if missing:
            raise CommandError(f"No slide with id {', '.join(map(str, missing))}")
        for slide_id in slide_ids:
            with transaction.atomic():
                run = run_enqueue(slide=slides[slide_id])
            self.stdout.write(f"slide {slide_id}: queued run {run.id}")
