"""The case pages: list, create, detail, upload, status polling, the smear image; each isolated by lab."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from alllab.analysis.models import AnalysisRun
from alllab.cases.models import Case, Slide
from tests.alllab.factories import AnalysisRunFactory, CaseFactory, SlideFactory
from tests.alllab.smear import smear_png


@pytest.fixture
def no_enqueue(monkeypatch):
    """Catches what the on-commit hooks send to the broker."""
    from alllab.analysis import tasks

    sent = []
    monkeypatch.setattr(tasks.analyze_slide, "delay", lambda run_id: sent.append(run_id))
    return sent


def test_it_sends_anonymous_users_to_sign_in(client):
    response = client.get("/cases/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_it_lists_and_filters_cases(tech_client, lab, other_lab):
    CaseFactory(lab=lab, accession_number="MINE-1", call="suspicious")
    CaseFactory(lab=lab, accession_number="MINE-2", call="negative")
    CaseFactory(lab=other_lab, accession_number="THEIRS-1")
    page = tech_client.get("/cases/")
    assert "MINE-1" in page.text and "MINE-2" in page.text and "THEIRS-1" not in page.text
    page = tech_client.get("/cases/", {"call": "suspicious"})
    assert "MINE-1" in page.text and "MINE-2" not in page.text


def test_it_creates_a_case_from_the_form(tech_client, lab):
    response = tech_client.post("/cases/new/", {"lab": lab.id, "accession_number": "N-1", "patient_pseudonym": "P"})
    case = Case.objects.get(accession_number="N-1")
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.id}/"


def test_it_shows_a_duplicate_accession_as_a_form_error(tech_client, lab):
    CaseFactory(lab=lab, accession_number="N-1")
    response = tech_client.post("/cases/new/", {"lab": lab.id, "accession_number": "N-1", "patient_pseudonym": "P"})
    assert response.status_code == 200 and "already exists" in response.text


def test_it_forbids_pathologists_to_create_cases(client, pathologist):
    client.force_login(pathologist)
    assert client.get("/cases/new/").status_code == 403


def test_it_returns_404_for_another_labs_case(tech_client, other_lab):
    slide = SlideFactory(case__lab=other_lab)
    case_id = slide.case_id
    assert tech_client.get(f"/cases/{case_id}/").status_code == 404
    assert tech_client.get(f"/cases/{case_id}/status/").status_code == 404
    assert tech_client.get(f"/cases/slides/{slide.id}/image/").status_code == 404
    upload = SimpleUploadedFile("a.png", smear_png(size=(32, 32)))
    assert tech_client.post(f"/cases/{case_id}/slides/", {"file": upload}).status_code == 404
    assert Slide.objects.filter(case_id=case_id).count() == 1


def test_it_uploads_several_files_one_per_request(tech_client, lab, no_enqueue, django_capture_on_commit_callbacks):
    case = CaseFactory(lab=lab)
    for name in ["a.png", "b.png"]:
        upload = SimpleUploadedFile(name, smear_png(size=(48, 32)), content_type="image/png")
        with django_capture_on_commit_callbacks(execute=True):
            response = tech_client.post(f"/cases/{case.id}/slides/", {"file": upload})
        assert response.status_code == 201, response.content
    assert sorted(case.slides.values_list("original_filename", flat=True)) == ["a.png", "b.png"]
    assert len(no_enqueue) == 2


def test_it_refuses_an_upload_from_a_pathologist(client, pathologist, lab, no_enqueue):
    case = CaseFactory(lab=lab)
    client.force_login(pathologist)
    response = client.post(f"/cases/{case.id}/slides/", {"file": SimpleUploadedFile("a.png", b"123")})
    assert response.status_code == 403 and "technicians" in response.json()["error"]
    assert case.slides.count() == 0


def test_it_answers_a_request_without_a_file_with_400(tech_client, lab):
    case = CaseFactory(lab=lab)
    assert tech_client.post(f"/cases/{case.id}/slides/", {}).json()["error"].startswith("No file")


def test_it_reports_each_slides_status_as_json(tech_client, lab):
    case = CaseFactory(lab=lab)
    running = AnalysisRunFactory(slide__case=case, status=AnalysisRun.Status.RUNNING, progress=0.4)
    failed = AnalysisRunFactory(slide__case=case, status=AnalysisRun.Status.FAILED, error="not an image")
    data = tech_client.get(f"/cases/{case.id}/status/").json()
    by_id = {s["id"]: s for s in data["slides"]}
    assert by_id[running.slide_id]["status"] == "running" and by_id[running.slide_id]["progress"] == 0.4
    assert by_id[failed.slide_id]["error"] == "not an image"
    assert "summary" in data["summary_html"]
    json.dumps(data)


def test_it_shows_the_upload_zone_only_to_writers(tech_client, client, pathologist, lab):
    case = CaseFactory(lab=lab)
    assert 'id="upload-form"' in tech_client.get(f"/cases/{case.id}/").text
    client.force_login(pathologist)
    page = client.get(f"/cases/{case.id}/")
    assert page.status_code == 200 and 'id="upload-form"' not in page.text


def test_it_serves_the_smear_image_to_its_lab(tech_client, lab):
    slide = SlideFactory(case__lab=lab)
    response = tech_client.get(f"/cases/slides/{slide.id}/image/")
    assert response.status_code == 200 and response["Cache-Control"].startswith("private")
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")


def test_it_answers_a_non_image_with_a_reason_and_keeps_the_case(tech_client, lab, no_enqueue):
    from alllab.analysis.services import run_execute
    from tests.alllab.stubs import StubPredictor

    case = CaseFactory(lab=lab)
    earlier = SlideFactory(case=case)
    upload = SimpleUploadedFile("notes.txt", b"these are notes, not a smear", content_type="text/plain")
    response = tech_client.post(f"/cases/{case.id}/slides/", {"file": upload})
    if response.status_code == 201:  # accepted as bytes: the worker's image check fails the run, with the reason
        run = AnalysisRun.objects.get(slide_id=response.json()["slide"]["id"])
        run = run_execute(run_id=run.id, predictor=StubPredictor())
        assert run.status == AnalysisRun.Status.FAILED and run.error.startswith("notes.txt: ")
    else:  # refused at the door (upload intake): a client error with a readable reason, nothing stored
        assert 400 <= response.status_code < 500 and len(response.json()["error"]) > 10
        assert not case.slides.filter(original_filename="notes.txt").exists()
    assert Case.objects.filter(pk=case.pk).exists() and case.slides.filter(pk=earlier.pk).exists()
    assert tech_client.get(f"/cases/{case.id}/").status_code == 200


def test_it_serves_a_small_thumbnail_of_an_analysed_slide_to_its_lab(tech_client, client, lab, other_lab):
    import io

    from django.core.files.base import ContentFile
    from PIL import Image

    from tests.alllab.factories import MembershipFactory, UserFactory

    slide = SlideFactory(case__lab=lab)
    buf = io.BytesIO()
    Image.new("RGB", (2592, 1944), (200, 150, 160)).save(buf, format="JPEG")
    slide.preview.save("preview.jpg", ContentFile(buf.getvalue()))
    status = tech_client.get(f"/cases/{slide.case_id}/status/").json()
    (row,) = status["slides"]
    response = tech_client.get(row["thumb_url"])
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    thumb = Image.open(io.BytesIO(response.content))
    assert max(thumb.size) <= 160 and thumb.size[0] / thumb.size[1] == pytest.approx(2592 / 1944, rel=0.02)
    outsider = UserFactory()
    MembershipFactory(user=outsider, lab=other_lab, role="technician")
    client.force_login(outsider)
    assert client.get(row["thumb_url"]).status_code == 404


def test_it_has_no_thumbnail_before_the_worker_writes_a_preview(tech_client, lab):
    slide = SlideFactory(case__lab=lab)
    assert tech_client.get(f"/cases/{slide.case_id}/status/").json()["slides"][0]["thumb_url"] == ""
    assert tech_client.get(f"/cases/slides/{slide.id}/thumb.jpg").status_code == 404


def test_the_case_summary_names_each_model_its_lab_model_and_sha256(tech_client, lab):
    from alllab.analysis.services import case_summary_refresh
    from alllab.labmodels.models import LabModel
    from tests.alllab.factories import CellFactory

    case = CaseFactory(lab=lab)
    adapted = LabModel.objects.create(
        lab=lab, kind=LabModel.Kind.ADAPTED, name="hybrid_vgg", version="0.3.1+north.1", sha256="ab12" * 16
    )
    done = AnalysisRun.Status.DONE
    lab_run = AnalysisRunFactory(
        slide__case=case, status=done, model_name="hybrid_vgg", model_version="0.3.1+north.1", lab_model=adapted
    )
    lab_run.model_sha256 = "ab12" * 16
    lab_run.save(update_fields=["model_sha256"])
    AnalysisRunFactory(slide__case=case, status=done, model_name="hybrid_vgg", model_version="0.3.0")  # before
    CellFactory(run=lab_run)
    case_summary_refresh(case=case)
    html = tech_client.get(f"/cases/{case.id}/").content.decode()
    line = html[html.index("Model: ") : html.index("</p>", html.index("Model: "))]
    assert "hybrid_vgg 0.3.1+north.1 (sha256 <code>ab12ab12ab12</code>)" in line
    assert "lab model: hybrid_vgg 0.3.1+north.1 (adapted to this lab)" in line
    assert "hybrid_vgg 0.3.0, lab model: not registered" in line  # an old run: no sha256, no registered model
    assert "ab12" * 4 not in line  # 12 hex, not the whole digest
