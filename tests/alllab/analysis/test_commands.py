"""``manage.py analyze_slide``: a new run per slide, the old runs kept."""

import pytest
from django.core.management import CommandError, call_command

from alllab.analysis.models import AnalysisRun
from tests.alllab.factories import AnalysisRunFactory


def test_it_queues_a_new_run_and_keeps_the_old(lab, monkeypatch, django_capture_on_commit_callbacks):
    from alllab.analysis import tasks

    sent = []
    monkeypatch.setattr(tasks.analyze_slide, "delay", lambda run_id: sent.append(run_id))
    old = AnalysisRunFactory(slide__case__lab=lab, status=AnalysisRun.Status.DONE)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("analyze_slide", str(old.slide_id))
    runs = list(AnalysisRun.objects.filter(slide=old.slide).order_by("id"))
    assert [r.status for r in runs] == ["done", "queued"] and sent == [runs[1].id]


def test_it_names_missing_slides(db):
    with pytest.raises(CommandError, match="No slide with id 424242"):
        call_command("analyze_slide", "424242")
