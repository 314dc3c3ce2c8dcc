"""Creating cases and slides: roles enforced, names generated, analysis queued on commit."""

import hashlib

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from alllab.analysis.models import AnalysisRun
from alllab.cases.models import Case
from alllab.cases.services import case_create, slide_create
from tests.alllab.smear import smear_png


def test_it_creates_a_case(technician, lab):
    case = case_create(lab=lab, accession_number=" A-1 ", patient_pseudonym="P-1", created_by=technician)
    assert (case.accession_number, case.status, case.created_by) == ("A-1", Case.Status.NEW, technician)


def test_it_refuses_a_duplicate_accession_in_the_same_lab_only(technician, lab, other_lab):
    case_create(lab=lab, accession_number="A-1", patient_pseudonym="P-1", created_by=technician)
    with pytest.raises(ValidationError):
        case_create(lab=lab, accession_number="A-1", patient_pseudonym="P-2", created_by=technician)
    from tests.alllab.factories import MembershipFactory

    MembershipFactory(user=technician, lab=other_lab, role="technician")
    assert case_create(lab=other_lab, accession_number="A-1", patient_pseudonym="P-3", created_by=technician)


def test_it_refuses_cases_from_pathologists_and_strangers(pathologist, lab, other_lab, technician):
    with pytest.raises(PermissionDenied):
        case_create(lab=lab, accession_number="A-1", patient_pseudonym="P", created_by=pathologist)
    with pytest.raises(PermissionDenied):
        case_create(lab=other_lab, accession_number="A-1", patient_pseudonym="P", created_by=technician)


def test_it_stores_a_slide_under_a_generated_name_and_queues_a_run(
    technician, lab, django_capture_on_commit_callbacks, monkeypatch
):
    from alllab.analysis import tasks

    sent = []
    monkeypatch.setattr(tasks.analyze_slide, "delay", lambda run_id: sent.append(run_id))
    case = case_create(lab=lab, accession_number="A-1", patient_pseudonym="P", created_by=technician)
    data = smear_png(size=(64, 48))
    upload = SimpleUploadedFile("../../Patient Smith 2024.png", data, content_type="image/png")
    with django_capture_on_commit_callbacks(execute=True):
        slide = slide_create(case=case, uploaded_file=upload, uploaded_by=technician)
    assert slide.original_filename == "Patient Smith 2024.png"  # Django strips the path; kept as text only
    assert "Smith" not in slide.image.name and slide.image.name.startswith(f"slides/{lab.id}/")
    assert slide.image.name.endswith(".png")
    assert slide.sha256 == hashlib.sha256(data).hexdigest() and slide.size_bytes == len(data)
    with slide.image.open("rb") as fh:
        assert fh.read() == data
    run = AnalysisRun.objects.get(slide=slide)
    assert run.status == AnalysisRun.Status.QUEUED
    assert sent == [run.id]
    case.refresh_from_db()
    assert case.status == Case.Status.ANALYSING


def test_it_does_not_queue_before_commit(technician, lab, django_capture_on_commit_callbacks, monkeypatch):
    from alllab.analysis import tasks

    sent = []
    monkeypatch.setattr(tasks.analyze_slide, "delay", lambda run_id: sent.append(run_id))
    case = case_create(lab=lab, accession_number="A-1", patient_pseudonym="P", created_by=technician)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        slide_create(
            case=case, uploaded_file=SimpleUploadedFile("a.png", smear_png(size=(32, 24))), uploaded_by=technician
        )
    assert sent == [] and len(callbacks) == 1


def test_it_refuses_an_empty_or_oversized_upload(technician, lab, settings):
    case = case_create(lab=lab, accession_number="A-1", patient_pseudonym="P", created_by=technician)
    with pytest.raises(ValidationError, match="empty"):
        slide_create(case=case, uploaded_file=SimpleUploadedFile("a.png", b""), uploaded_by=technician)
    settings.ALLLAB_MAX_UPLOAD_MB = 1
    big = SimpleUploadedFile("big.png", b"0" * (1024 * 1024 + 1))
    with pytest.raises(ValidationError, match="larger than 1 MB"):
        slide_create(case=case, uploaded_file=big, uploaded_by=technician)
    assert case.slides.count() == 0
