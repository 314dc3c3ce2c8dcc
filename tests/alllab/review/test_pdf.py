"""The PDF report: rendered by WeasyPrint, read back with pypdf, preliminary before sign-off and frozen after."""

import io
import re

import pypdf
import pytest

from alllab.accounts.scope import scope_for_user
from alllab.review.pdf import report_pdf
from alllab.review.services import case_amend, case_sign_off, cell_reclassify
from tests.alllab.review.conftest import review_rest

pytestmark = pytest.mark.django_db


def _text(pdf: bytes) -> tuple[str, int, int]:
    """The text of every page (whitespace collapsed), the page count, and the images the last page can draw."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return " ".join(text.split()), len(reader.pages), len(reader.pages[-1].images)


def test_it_renders_a_preliminary_report_with_the_case_and_counts(review_case, pathologist):
    case, cells, _ = review_case
    cell_reclassify(
        scope=scope_for_user(pathologist), user=pathologist, case=case, cell_ids=[cells[0].id], label="blast"
    )
    cell_reclassify(
        scope=scope_for_user(pathologist), user=pathologist, case=case, cell_ids=[cells[1].id], label="lymphocyte"
    )
    # A third white cell: below MIN_CELLS (3) reviewed white cells no fraction is printed (issue 12 item 10).
    cell_reclassify(
        scope=scope_for_user(pathologist), user=pathologist, case=case, cell_ids=[cells[2].id], label="lymphocyte"
    )
    pdf = report_pdf(scope=scope_for_user(pathologist), case=case)
    assert pdf.startswith(b"%PDF")
    text, n_pages, n_images = _text(pdf)
    for expected in (
        "PRELIMINARY",
        "North Haematology",
        "ACC-R1",
        "PSN-R1",
        "slide-a.png",
        "slide-b.png",
        "hybrid-vgg version 1.2.0",
        "Reviewed blast fraction: 33.33%",
        "blasts 1 of 3 white cells reviewed",
        "Fewer than 100 white cells reviewed",
        "screening aid, not a diagnosis",
        "Most suspicious cells",
        f"Reviewed by: {pathologist.username} (3 cells",
        # the crops page: every current cell (fewer than 24) with its probability and review
        "p = 0.95 · Blast",
        "p = 0.80 · Lymphocyte",
        "p = 0.70 · Lymphocyte",
        "p = 0.10 · not reviewed",
    ):
        assert expected in text, expected
    assert "p = 0.99" not in text  # the superseded run's cell
    assert n_pages >= 2 and n_images > 0  # the crops start a new page, with the crops embedded


def test_it_prints_no_reviewed_fraction_from_two_white_cells(review_case, pathologist):
    case, cells, _ = review_case
    cell_reclassify(
        scope=scope_for_user(pathologist), user=pathologist, case=case, cell_ids=[cells[0].id], label="blast"
    )
    cell_reclassify(
        scope=scope_for_user(pathologist), user=pathologist, case=case, cell_ids=[cells[1].id], label="lymphocyte"
    )
    text, _, _ = _text(report_pdf(scope=scope_for_user(pathologist), case=case))
    assert "Reviewed blast fraction: none, too few white cells reviewed" in text
    assert "Reviewed blast fraction: 50" not in text


def test_it_prints_the_signed_version_as_frozen(review_case, pathologist):
    case, cells, _ = review_case
    review_rest(case, pathologist)
    case_sign_off(
        scope=scope_for_user(pathologist),
        user=pathologist,
        case=case,
        interpretation="no_blasts",
        text="Reactive picture.",
    )
    cell_reclassify(
        scope=scope_for_user(pathologist), user=pathologist, case=case, cell_ids=[cells[0].id], label="blast"
    )  # after signing
    text, _, _ = _text(report_pdf(scope=scope_for_user(pathologist), case=case))
    assert "FINAL · version 1" in text and "No blasts seen" in text and "Reactive picture." in text
    assert re.search(rf"Signed by {pathologist.username}, Pathologist, at \d{{4}}-\d\d-\d\d \d\d:\d\d UTC\.", text)
    assert "blasts 0 of 6 white cells reviewed" in text  # the later reclassification is not in the signed version
    case_amend(
        scope=scope_for_user(pathologist),
        user=pathologist,
        case=case,
        interpretation="blasts_present",
        reason="One blast found on recount.",
    )
    text, _, _ = _text(report_pdf(scope=scope_for_user(pathologist), case=case))
    assert "AMENDED · version 2" in text and "Reason for amendment: One blast found on recount." in text
    assert "blasts 1 of 6 white cells reviewed" in text
