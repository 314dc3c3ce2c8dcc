"""Slide upload (202, 413, 415, 400), slide status and results, cells, and crops behind authentication."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from alllab.analysis.models import AnalysisRun
from alllab.cases.models import Slide
from tests.alllab.factories import CaseFactory
from tests.alllab.smear import smear_png

pytestmark = pytest.mark.django_db
SLIDE_KEYS = {
    "id", "case", "original_filename", "size_bytes", "sha256", "width", "height", "uploaded_at", "run_id", "status",
    "progress", "error", "model_name", "model_version", "model_sha256", "lab_model", "worker", "n_cells", "n_blast",
    "blast_fraction", "blast_fraction_ci95", "no_fraction_reason", "max_p_blast", "call", "call_label", "call_explanation", "quality",
    "started_at", "finished_at", "links",
}  # fmt: skip


@pytest.fixture
def case(lab, technician):
    return CaseFactory(lab=lab, created_by=technician)


def _upload(api, case, content: bytes, name="smear.png", content_type="image/png"):
    return api.post(
        reverse("api:case-slides", args=[case.pk]),
        {"image": SimpleUploadedFile(name, content, content_type=content_type)},
        format="multipart",
    )


def test_it_accepts_an_image_with_202_and_queues_its_analysis(api, case, django_capture_on_commit_callbacks):
    png = smear_png(size=(120, 90))
    with django_capture_on_commit_callbacks() as callbacks:
        response = _upload(api, case, png)
    assert response.status_code == 202
    body = response.json()
    assert set(body) == SLIDE_KEYS
    assert body["status"] == "queued"
    assert body["case"] == case.pk
    assert body["original_filename"] == "smear.png"
    assert body["size_bytes"] == len(png)
    assert body["n_cells"] is None and body["call"] is None
    slide = Slide.objects.get(pk=body["id"])
    assert AnalysisRun.objects.get(pk=body["run_id"]).slide == slide
    assert len(callbacks) == 1  # the analysis task is sent once the upload commits


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF", "BMP", "WEBP"])
def test_it_accepts_the_other_formats_the_worker_reads(api, case, fmt):
    buf = io.BytesIO()
    Image.new("RGB", (20, 20), (200, 100, 150)).save(buf, format=fmt)
    assert _upload(api, case, buf.getvalue(), name=f"s.{fmt.lower()}").status_code == 202


@pytest.mark.parametrize(
    "content",
    [b"%PDF-1.4 not a smear", b"GIF89a" + b"\0" * 64, b"\x89PNG\r\n\x1a\n truncated"],
    ids=["pdf", "gif", "broken-png"],
)
def test_it_refuses_bytes_that_are_not_a_readable_image_with_415(api, case, content):
    response = _upload(api, case, content, name="smear.png")  # the name and declared type lie; the bytes decide
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert not Slide.objects.exists()


def test_it_refuses_an_upload_over_the_limit_with_413(api, case, settings):
    settings.ALLLAB_MAX_UPLOAD_MB = 1
    response = _upload(api, case, b"\0" * (1024 * 1024 + 1))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert not Slide.objects.exists()


def test_it_refuses_a_declared_oversized_body_before_reading_it(api, case, settings):
    settings.ALLLAB_MAX_UPLOAD_MB = 1
    response = api.post(
        reverse("api:case-slides", args=[case.pk]),
        data=b"x" * 10,
        content_type="multipart/form-data; boundary=zzz",
        CONTENT_LENGTH=str(50 * 1024 * 1024),
    )
    assert response.status_code == 413


def test_it_names_the_missing_image_field_with_400(api, case):
    response = api.post(reverse("api:case-slides", args=[case.pk]), {"file": "x"}, format="multipart")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "image"


def test_it_refuses_json_for_an_upload_with_415(api, case):
    response = api.post(reverse("api:case-slides", args=[case.pk]), {"image": "abc"}, format="json")
    assert response.status_code == 415


def test_it_hides_another_labs_case_from_uploads_as_404(other_api, case):
    assert _upload(other_api, case, smear_png(size=(40, 30))).status_code == 404


def test_it_refuses_uploads_from_a_pathologist_with_403(client, pathologist, case):
    client.force_login(pathologist)
    response = client.post(
        reverse("api:case-slides", args=[case.pk]),
        {"image": SimpleUploadedFile("s.png", smear_png(size=(40, 30)), content_type="image/png")},
    )
    assert response.status_code == 403


def test_it_shows_a_done_slides_stored_results(api, done_case):
    _, slide, run, _ = done_case
    body = api.get(reverse("api:slide-detail", args=[slide.pk])).json()
    assert set(body) == SLIDE_KEYS
    assert body["status"] == "done"
    assert body["error"] == ""
    assert (body["n_cells"], body["n_blast"], body["call"]) == (3, 1, "suspicious")
    assert body["blast_fraction"] == pytest.approx(1 / 3)
    assert body["blast_fraction_ci95"] == [0.0615, 0.7923]
    assert body["max_p_blast"] == 0.91
    assert (body["model_name"], body["model_version"]) == ("hybrid-vgg", "1.2.0")
    assert body["links"]["cells"] == f"/api/v1/slides/{slide.pk}/cells/"


def test_it_shows_a_failed_slides_reason_and_no_numbers(api, done_case):
    _, slide, run, _ = done_case
    AnalysisRun.objects.filter(pk=run.pk).update(status="failed", error="Not a readable image.")
    body = api.get(reverse("api:slide-detail", args=[slide.pk])).json()
    assert (body["status"], body["error"]) == ("failed", "Not a readable image.")
    assert body["n_cells"] is None and body["blast_fraction_ci95"] is None


def test_it_lists_cells_most_likely_blast_first(api, done_case):
    _, slide, _, cells = done_case
    body = api.get(reverse("api:slide-cells", args=[slide.pk])).json()
    assert body["count"] == 3
    first = body["results"][0]
    assert set(first) == {"id", "index", "bbox", "p_blast", "label", "reviewed_label", "crop_url"}
    assert [c["p_blast"] for c in body["results"]] == [0.91, 0.3, 0.1]
    assert first["label"] == "blast"
    assert first["reviewed_label"] is None
    assert first["bbox"] == [10, 10, 30, 30]
    assert first["crop_url"] == f"/api/v1/cells/{cells[0].pk}/crop/"


def test_it_lists_no_cells_before_the_analysis_is_done(api, case):
    slide = _upload(api, case, smear_png(size=(40, 30))).json()
    body = api.get(reverse("api:slide-cells", args=[slide["id"]])).json()
    assert (body["count"], body["results"]) == (0, [])


def test_it_serves_a_crop_only_to_the_cells_lab(api, other_api, anon, done_case):
    cell = done_case[3][0]
    url = reverse("api:cell-crop", args=[cell.pk])
    response = api.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert "private" in response["Cache-Control"]
    assert Image.open(io.BytesIO(b"".join(response.streaming_content))).format == "PNG"
    assert other_api.get(url).status_code == 404
    assert anon.get(url).status_code == 401
    assert anon.get(url).json()["error"]["code"] == "not_authenticated"


def test_it_serves_a_crop_with_nosniff_and_404s_a_missing_one(api, done_case):
    cell = done_case[3][0]
    response = api.get(reverse("api:cell-crop", args=[cell.pk]))
    assert response["X-Content-Type-Options"] == "nosniff"
    cell.crop.storage.delete(cell.crop.name)
    assert api.get(reverse("api:cell-crop", args=[cell.pk])).status_code == 404


def test_it_hides_another_labs_slide_and_cells_as_404(other_api, done_case):
    slide = done_case[1]
    assert other_api.get(reverse("api:slide-detail", args=[slide.pk])).status_code == 404
    assert other_api.get(reverse("api:slide-cells", args=[slide.pk])).status_code == 404


def test_it_shows_the_pathologists_label_once_a_cell_is_reviewed(api, done_case, pathologist):
    from django.utils import timezone

    from alllab.review.models import CellReview

    _, slide, _, cells = done_case
    CellReview.objects.create(cell=cells[1], label="blast", reviewed_by=pathologist, reviewed_at=timezone.now())
    body = api.get(reverse("api:slide-cells", args=[slide.pk])).json()
    labels = {c["id"]: (c["label"], c["reviewed_label"]) for c in body["results"]}
    assert labels[cells[1].pk] == ("non_blast", "blast")
    assert labels[cells[0].pk] == ("blast", None)
