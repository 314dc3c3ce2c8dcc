"""``manage.py create_demo``: demo lab, a user per role, a case with the BCCD samples; a rerun changes nothing."""

from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command

from alllab.accounts.models import Membership
from alllab.analysis.models import AnalysisRun
from alllab.cases.models import Case, Slide


def test_it_creates_the_demo_once(db, monkeypatch, django_capture_on_commit_callbacks):
    from alllab.analysis import tasks

    sent = []
    monkeypatch.setattr(tasks.analyze_slide, "delay", lambda run_id: sent.append(run_id))
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("create_demo", stdout=out)
    roles = dict(Membership.objects.filter(lab__slug="demo").values_list("user__username", "role"))
    assert roles == {"technician": "technician", "pathologist": "pathologist", "labadmin": "lab_admin"}
    assert get_user_model().objects.get(username="pathologist").check_password("alllab-demo")
    assert "alllab-demo" in out.getvalue() and "pathologist" in out.getvalue()
    case = Case.objects.get(lab__slug="demo", accession_number="DEMO-0001")
    assert case.slides.count() == 3 and len(sent) == 3

    before = (Slide.objects.count(), AnalysisRun.objects.count(), get_user_model().objects.count())
    with django_capture_on_commit_callbacks(execute=True):
        call_command("create_demo", stdout=StringIO())
    assert (Slide.objects.count(), AnalysisRun.objects.count(), get_user_model().objects.count()) == before
    assert len(sent) == 3


def test_it_does_not_call_the_demo_case_negative_from_its_three_cells(db, monkeypatch):
    # A BCCD field holds one white cell: three of them are far too few for a negative (issue 12 item 2).
    from alllab.analysis import tasks
    from alllab.analysis.services import run_execute
    from tests.alllab.stubs import StubPredictor

    monkeypatch.setattr(tasks.analyze_slide, "delay", lambda run_id: None)
    call_command("create_demo", stdout=StringIO())
    case = Case.objects.get(lab__slug="demo", accession_number="DEMO-0001")
    for run in AnalysisRun.objects.filter(slide__case=case):
        run_execute(run_id=run.id, predictor=StubPredictor([0.1]))
    case.refresh_from_db()
    assert (case.n_cells, case.call) == (3, "insufficient")
