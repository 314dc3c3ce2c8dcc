"""Bad and odd uploads, through the page and the API: a clear message and the right status, or converted and analysed.

Every refused upload leaves the case as it was; every accepted one is stored under a generated name without the
metadata it arrived with, and the worker's reader can analyse what was stored.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from alllab.analysis.models import AnalysisRun
from alllab.analysis.services import run_execute
from alllab.cases.models import Slide
from inference.io import load_image
from tests.alllab.factories import CaseFactory, SlideFactory
from tests.alllab.stubs import StubPredictor
from tests.reliability import images

pytestmark = pytest.mark.django_db
STORED_NAME = re.compile(r"^slides/\d+/[0-9a-f]{32}\.(png|jpg)$")


class Uploader:
    """Posts one file through the page's upload endpoint or the API, and reads either answer the same way."""

    def __init__(self, how, client, case):
        self.how, self.client, self.case = how, client, case

    def __call__(self, name: str, data: bytes):
        if self.how == "page":
            response = self.client.post(f"/cases/{self.case.id}/slides/", {"file": SimpleUploadedFile(name, data)})
        else:
            response = self.client.post(
                f"/api/v1/cases/{self.case.id}/slides/", {"image": SimpleUploadedFile(name, data)}, format="multipart"
            )
        body = response.json()
        error = body.get("error")
        message = error["message"] if isinstance(error, dict) else error
        return response.status_code, message, body

    @property
    def accepted(self) -> int:
        return 201 if self.how == "page" else 202

    def slide_id(self, body) -> int:
        return body["slide"]["id"] if self.how == "page" else body["id"]


@pytest.fixture(params=["page", "api"])
def upload(request, client, api, technician, lab, sent):
    case = CaseFactory(lab=lab, created_by=technician)
    SlideFactory(case=case, original_filename="earlier.png")
    if request.param == "page":
        client.force_login(technician)
        return Uploader("page", client, case)
    return Uploader("api", api, case)


def _assert_case_untouched(upload):
    assert list(upload.case.slides.values_list("original_filename", flat=True)) == ["earlier.png"]


@pytest.mark.parametrize(
    ("name", "make", "status", "words"),
    [
        ("empty.png", lambda: b"", 400, "empty"),
        ("notes.jpg", lambda: b"Patient notes, typed into a text file and renamed.\n" * 20, 415, "not"),
        ("cut.jpg", images.truncated_jpeg, 400, "truncated"),
        ("bomb.png", lambda: images.png_header_bomb(10_000, 10_000, mode_bits=8), 413, "exceeds"),
        ("huge.tif", lambda: images.tiff_header_only(30_000, 30_000), 413, "MP"),
        ("huge.png", lambda: images.png_header_bomb(30_000, 30_000), 413, "MP"),
    ],
    ids=["zero-bytes", "text-renamed-jpg", "truncated-jpeg", "png-bomb", "tiff-30000px", "png-30000px"],
)
def test_it_refuses_unreadable_uploads_with_a_reason_and_keeps_the_case(upload, name, make, status, words):
    code, message, _ = upload(name, make())
    assert code == status, message
    assert words in message and len(message) > 15
    _assert_case_untouched(upload)


def test_it_refuses_a_truncated_jpeg_even_after_weasyprint_relaxed_pillow(upload):
    import weasyprint.images  # noqa: F401 (sets ImageFile.LOAD_TRUNCATED_IMAGES for the whole process)
    from PIL import ImageFile

    assert ImageFile.LOAD_TRUNCATED_IMAGES is True
    code, message, _ = upload("cut.jpg", images.truncated_jpeg())
    assert code == 400 and "truncated" in message
    _assert_case_untouched(upload)


def test_it_refuses_an_upload_over_the_size_limit_with_413(upload, settings):
    settings.ALLLAB_MAX_UPLOAD_MB = 1
    code, message, _ = upload("big.png", images.png_header_bomb(4000, 4000, mode_bits=8) + b"\0" * (1024 * 1024))
    assert code == 413 and "1 MB" in message
    _assert_case_untouched(upload)


@pytest.mark.parametrize(
    ("name", "make", "suffix"),
    [
        ("grey16.tif", images.tiff16_grey, ".png"),
        ("rgb16.tiff", images.tiff16_rgb, ".png"),
        ("grey.png", images.greyscale_png, ".png"),
        ("cmyk.jpg", images.cmyk_jpeg, ".jpg"),
        ("rgba.png", images.rgba_png, ".png"),
        ("phone.jpg", lambda: images.jpeg_with_metadata(orientation=6), ".png"),
        ("bmp.bmp", lambda: images.encode(images.smear(), "BMP"), ".png"),
        ("smear.webp", lambda: images.encode(images.smear(), "WEBP", lossless=True), ".png"),
        ("lossy.webp", lambda: images.encode(images.smear(), "WEBP", quality=80), ".png"),
    ],
    ids=[
        "tiff-16bit-grey",
        "tiff-16bit-rgb",
        "greyscale",
        "cmyk-jpeg",
        "rgba-png",
        "exif-rotated",
        "bmp",
        "webp",
        "webp-lossy",
    ],
)
def test_it_converts_odd_formats_and_the_worker_analyses_them(upload, name, make, suffix):
    code, message, body = upload(name, make())
    assert code == upload.accepted, message
    slide = Slide.objects.get(pk=upload.slide_id(body))
    assert slide.image.name.endswith(suffix)
    with slide.image.open("rb") as fh:
        rgb = load_image(fh.read())
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8
    run = run_execute(run_id=AnalysisRun.objects.get(slide=slide).id, predictor=StubPredictor())
    assert run.status == AnalysisRun.Status.DONE, run.error


def test_it_stores_an_exif_rotated_photo_upright_and_without_its_exif(upload):
    code, _, body = upload("phone.jpg", images.jpeg_with_metadata(orientation=6, size=(96, 72)))
    slide = Slide.objects.get(pk=upload.slide_id(body))
    with slide.image.open("rb") as fh:
        stored = fh.read()
    assert images.SECRET.encode() not in stored
    with Image.open(io.BytesIO(stored)) as img:
        assert img.size == (72, 96)  # orientation 6: turned a quarter, so width and height swap
        assert not img.getexif()


@pytest.mark.parametrize(
    ("make", "fmt"), [(images.jpeg_with_metadata, "JPEG"), (images.png_with_metadata, "PNG")], ids=["jpeg", "png"]
)
def test_it_strips_metadata_without_touching_the_pixels(upload, make, fmt):
    data = make()
    assert images.SECRET.encode() in data or fmt == "PNG"  # (the PNG's iTXt is compressed)
    code, _, body = upload(f"smear.{fmt.lower()}", data)
    assert code == upload.accepted
    slide = Slide.objects.get(pk=upload.slide_id(body))
    with slide.image.open("rb") as fh:
        stored = fh.read()
    assert images.SECRET.encode() not in stored
    with Image.open(io.BytesIO(stored)) as img:
        assert img.format == fmt and not img.getexif() and not {"comment", "xmp", "Patient", "Comment"} & set(img.info)
    np.testing.assert_array_equal(load_image(stored), load_image(data))  # no recompression: the same pixels
    assert slide.sha256 and slide.size_bytes == len(data)  # the upload's own fingerprint is kept


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd.png", "C:\\Users\\lab\\Desktop\\smear.png", "血液 снимок ü.png", "a/b/../c%2F..%2Fd.png"],
    ids=["dot-dot", "windows-path", "unicode", "encoded-separators"],
)
def test_it_keeps_an_odd_filename_as_text_and_stores_under_a_generated_name(upload, name):
    code, message, body = upload(name, images.encode(images.smear(), "PNG"))
    assert code == upload.accepted, message
    slide = Slide.objects.get(pk=upload.slide_id(body))
    assert STORED_NAME.match(slide.image.name), slide.image.name
    assert "/" not in slide.original_filename and slide.original_filename.endswith(".png")
    assert slide.original_filename in name.replace("\\", "/").split("/")[-1] or "\\" in slide.original_filename


def test_it_analyses_a_smear_with_no_cells_and_an_all_black_image_without_crashing(upload):
    """The real predictor: both finish with no cells and an ``insufficient`` call rather than a failure."""
    from alllab.analysis.tasks import load_predictor

    predictor = load_predictor()
    for name, data in [("empty-field.png", images.blank_png()), ("black.png", images.blank_png(colour=(0, 0, 0)))]:
        code, message, body = upload(name, data)
        assert code == upload.accepted, message
        run = AnalysisRun.objects.get(slide_id=upload.slide_id(body))
        run = run_execute(run_id=run.id, predictor=predictor)
        assert run.status == AnalysisRun.Status.DONE, run.error
        assert run.n_cells == 0 and run.call == "insufficient" and "too_few_cells" in run.quality["flags"]
