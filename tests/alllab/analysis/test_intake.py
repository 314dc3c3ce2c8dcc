"""``slide_create``, the one upload path: roles enforced, names generated, analysis queued on commit."""

import hashlib
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from alllab.accounts.scope import scope_for_user
from alllab.analysis.intake import UploadRejected, slide_create
from alllab.analysis.models import AnalysisRun
from alllab.cases.models import Case
from alllab.cases.services import case_create
from tests.alllab.smear import smear_png

pytestmark = pytest.mark.django_db


def test_it_stores_a_slide_under_a_generated_name_and_queues_a_run(
    technician, lab, django_capture_on_commit_callbacks, monkeypatch
):
    from alllab.analysis import tasks

    sent = []
    monkeypatch.setattr(tasks.analyze_slide, "delay", lambda run_id: sent.append(run_id))
    case = case_create(
        scope=scope_for_user(technician), lab=lab, accession_number="A-1", patient_pseudonym="P", created_by=technician
    )
    data = smear_png(size=(64, 48))
    upload = SimpleUploadedFile("../../Patient Smith 2024.png", data, content_type="image/png")
    with django_capture_on_commit_callbacks(execute=True):
        slide = slide_create(scope=scope_for_user(technician), case=case, uploaded_file=upload, uploaded_by=technician)
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
    case = case_create(
        scope=scope_for_user(technician), lab=lab, accession_number="A-1", patient_pseudonym="P", created_by=technician
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        slide_create(
            scope=scope_for_user(technician),
            case=case,
            uploaded_file=SimpleUploadedFile("a.png", smear_png(size=(32, 24))),
            uploaded_by=technician,
        )
    assert sent == [] and len(callbacks) == 1


def test_it_refuses_an_empty_or_oversized_upload(technician, lab, settings):
    case = case_create(
        scope=scope_for_user(technician), lab=lab, accession_number="A-1", patient_pseudonym="P", created_by=technician
    )
    with pytest.raises(ValidationError, match="empty"):
        slide_create(
            scope=scope_for_user(technician),
            case=case,
            uploaded_file=SimpleUploadedFile("a.png", b""),
            uploaded_by=technician,
        )
    settings.ALLLAB_MAX_UPLOAD_MB = 1
    big = SimpleUploadedFile("big.png", b"0" * (1024 * 1024 + 1))
    with pytest.raises(ValidationError, match="larger than 1 MB"):
        slide_create(scope=scope_for_user(technician), case=case, uploaded_file=big, uploaded_by=technician)
    assert case.slides.count() == 0


def test_it_refuses_an_upload_from_a_pathologist_and_stores_nothing(pathologist, technician, lab):
    case = case_create(
        scope=scope_for_user(technician), lab=lab, accession_number="A-1", patient_pseudonym="P", created_by=technician
    )
    with pytest.raises(PermissionDenied):
        slide_create(
            scope=scope_for_user(pathologist),
            case=case,
            uploaded_file=SimpleUploadedFile("a.png", smear_png(size=(32, 24))),
            uploaded_by=pathologist,
        )
    assert case.slides.count() == 0


def test_it_refuses_bytes_that_are_not_an_image_with_415(technician, lab):
    case = case_create(
        scope=scope_for_user(technician), lab=lab, accession_number="A-1", patient_pseudonym="P", created_by=technician
    )
    with pytest.raises(UploadRejected) as refused:
        slide_create(
            scope=scope_for_user(technician),
            case=case,
            uploaded_file=SimpleUploadedFile("a.png", b"%PDF-1.4 " * 20),
            uploaded_by=technician,
        )
    assert (refused.value.status, refused.value.code) == (415, "not_an_image")
    assert case.slides.count() == 0


def test_it_accepts_a_webp_and_stores_it_as_png(technician, lab, django_capture_on_commit_callbacks):
    case = case_create(
        scope=scope_for_user(technician), lab=lab, accession_number="A-1", patient_pseudonym="P", created_by=technician
    )
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 100, 150)).save(buf, format="WEBP", lossless=True)
    with django_capture_on_commit_callbacks():
        slide = slide_create(
            scope=scope_for_user(technician),
            case=case,
            uploaded_file=SimpleUploadedFile("s.webp", buf.getvalue()),
            uploaded_by=technician,
        )
    assert slide.image.name.endswith(".png") and slide.size_bytes == len(buf.getvalue())
