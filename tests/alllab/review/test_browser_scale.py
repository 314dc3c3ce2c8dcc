"""In Debian's chromium: review a 200-cell case with the keyboard alone, through the filters and pages, then sign.

The cells are real segmentations of synthetic smears (``tests/inference/synthetic.py``) stored as the worker stores
them (``crop_for_review``), so the page and its screenshots show cells, not noise. No timing is asserted: every wait
is for a state. ``ALLLAB_DOCS_IMG=docs/img`` also writes the screenshots used by docs/review.md.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from PIL import Image

from alllab.analysis.models import AnalysisRun
from alllab.analysis.services import case_summary_refresh
from alllab.analysis.summaries import summarize, summary_columns
from alllab.review.models import CellReview
from inference.segment import find_cells
from inference.segmentation.crop import crop_for_review
from tests.alllab.browser import ARTIFACTS, CHROMIUM, open_signed_in
from tests.alllab.factories import AnalysisRunFactory, CaseFactory, CellFactory, SlideFactory
from tests.inference.synthetic import make_smear

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]

N_SLIDES, PER_SLIDE, N_FLAGGED = 4, 50, 30  # 200 cells, 30 of them called blast by the model
FLAGGED = {k * N_SLIDES * PER_SLIDE // N_FLAGGED for k in range(N_FLAGGED)}


def _png(rgb) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def _jpeg(rgb) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


@pytest.fixture
def big_case(lab, technician):
    case = CaseFactory(lab=lab, created_by=technician, accession_number="ACC-200", patient_pseudonym="PSN-200")
    n = 0
    for s in range(N_SLIDES):
        smear = make_smear(width=1280, height=960, n_single=PER_SLIDE + 4, n_pairs=0, rbc_density=0.35, seed=s)
        seg = find_cells(smear.rgb)
        assert len(seg.cells) >= PER_SLIDE
        slide = SlideFactory(case=case, original_filename=f"smear-{s + 1}.png", width=1280, height=960)
        slide.preview.save(f"preview_{s}.jpg", ContentFile(_jpeg(smear.rgb)))
        run = AnalysisRunFactory(
            slide=slide, status=AnalysisRun.Status.DONE, model_name="hybrid-vgg", model_version="test"
        )
        p_blasts = []
        for i, region in enumerate(seg.cells[:PER_SLIDE]):
            # 30 AI-flagged cells spread over the slides, the rest scored low (below 0.5)
            p = 0.9 - 0.01 * (n % 7) if n in FLAGGED else 0.05 + 0.002 * n
            crop = crop_for_review(smear.rgb, region, rbc_diameter_px=seg.rbc_diameter_px)
            x, y, w, h = region.bbox
            CellFactory(
                run=run,
                index=i,
                p_blast=p,
                bbox_x=x,
                bbox_y=y,
                bbox_w=w,
                bbox_h=h,
                centroid_x=region.centroid[0],
                centroid_y=region.centroid[1],
                contour=region.contour.reshape(-1, 2).tolist(),
                crop=ContentFile(_png(crop), name="crop.png"),
            )
            p_blasts.append(p)
            n += 1
        AnalysisRun.objects.filter(pk=run.pk).update(**summary_columns(summary=summarize(p_blasts)))
    case_summary_refresh(case=case)  # as the worker leaves it: every slide done, the case awaiting review
    case.refresh_from_db()
    return case


def _shots(target, name: str) -> None:
    """Screenshot a page or a locator; with ALLLAB_DOCS_IMG also a small copy (3/4 size, 64 colours) for the docs."""
    ARTIFACTS.mkdir(exist_ok=True)
    png = target.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    docs = os.environ.get("ALLLAB_DOCS_IMG")
    if docs:
        Path(docs).mkdir(parents=True, exist_ok=True)
        full = Image.open(io.BytesIO(png)).convert("RGB")
        small = full.resize((full.width * 3 // 4, full.height * 3 // 4), Image.Resampling.LANCZOS)
        small = small.quantize(colors=64, method=Image.Quantize.MEDIANCUT)
        small.save(Path(docs) / f"{name}.png", optimize=True)


def test_it_reviews_200_cells_with_the_keyboard_and_the_filters(live_server, big_case, pathologist, monkeypatch):
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the ORM is only used before and after the browser
    case = big_case
    with sync_api.sync_playwright() as pw:
        browser, page = open_signed_in(pw, live_server.url, pathologist)
        page.wait_for_url("**/")
        page.goto(f"{live_server.url}/review/cases/{case.id}/")
        info = page.locator("#page-info")
        message = page.locator("#review-message")
        reviewed = page.locator('[data-testid="n-reviewed"]')
        key = page.keyboard.press
        expect(info).to_have_text("page 1 of 4 · cells 1–60 of 200")
        # the keyboard starts on the first cell: no click anywhere until the sign-off
        assert page.evaluate("document.activeElement.classList.contains('review-cell')")

        key("PageDown")
        expect(info).to_have_text("page 2 of 4 · cells 61–120 of 200")
        key("PageUp")
        expect(info).to_contain_text("page 1 of 4")

        # AI-flagged only (Shift+F): all 30 on one page; select the page, B, Enter: 30 blasts in one save.
        key("Shift+F")
        expect(info).to_have_text("page 1 of 1 · cells 1–30 of 30")
        assert page.locator(".review-cell:not([hidden])").evaluate_all(
            "cards => cards.every(c => c.dataset.ai === 'blast')"
        )
        key("Shift+A")
        expect(page.locator(".review-cell.selected")).to_have_count(30)
        key("b")
        key("Enter")
        expect(message).to_have_text("Saved: 30 cells set to Blast.")
        expect(reviewed).to_have_text("30 of 200")
        key("Shift+F")  # off again: all cells
        expect(info).to_contain_text("of 200")
        _shots(page, "review-page")

        # Unreviewed only (Shift+U): three cells one by one (class key, Enter moves on), then a page at a time.
        key("Shift+U")
        expect(info).to_contain_text("of 170")
        for label in ("n", "m", "e"):
            key(label)
            key("Enter")
            expect(message).to_contain_text("Saved: 1 cell")
        expect(reviewed).to_have_text("33 of 200")
        expect(info).to_contain_text("of 167")
        key("z")  # zoom the focused cell: stored crop, the smear at full resolution, its place on the smear
        expect(page.locator("#zoom")).to_be_visible()
        assert "url(" in page.locator("#zoom-native").evaluate("el => el.style.backgroundImage")
        assert "#cell-" in page.locator("#zoom-gallery").get_attribute("href")
        _shots(page, "review-zoom")
        key("Escape")
        expect(page.locator("#zoom")).to_be_hidden()
        for left in (107, 47, 0):
            key("Shift+A")
            key("l")
            key("Enter")
            expect(message).to_contain_text("set to Lymphocyte")
            expect(info).to_have_text(
                "no cells" if not left else f"page 1 of {-(-left // 60)} · cells 1–{min(60, left)} of {left}"
            )
        expect(page.locator('[data-testid="n-unreviewed"]')).to_have_text("0")
        expect(reviewed).to_have_text("200 of 200")

        # The class filter from the keyboard (Shift+C steps through the classes).
        key("Shift+U")
        key("Shift+C")
        expect(info).to_have_text("page 1 of 1 · cells 1–30 of 30")  # blast
        key("Shift+C")
        expect(info).to_contain_text("of 167")  # lymphocyte
        key("Shift+C")
        expect(info).to_have_text("page 1 of 1 · cells 1–1 of 1")  # neutrophil

        # Sign-off: the confirmation states what is signed before anything is.
        page.get_by_label("Blasts present: suggest flow cytometry").check()
        page.get_by_role("button", name="Review and sign off").click()
        confirm = page.locator("#sign-confirm")
        expect(confirm).to_contain_text("You are signing the final report (version 1)")
        expect(confirm).to_contain_text("30 of 200 white cells")
        _shots(page.locator("#sign-card"), "sign-off-confirmation")
        page.get_by_role("button", name="Confirm and sign").click()
        expect(page.locator("#report-status")).to_contain_text("v1")
        browser.close()

    counts = {}
    for label in CellReview.objects.filter(cell__run__slide__case=case).values_list("label", flat=True):
        counts[label] = counts.get(label, 0) + 1
    assert counts == {"blast": 30, "neutrophil": 1, "monocyte": 1, "eosinophil": 1, "lymphocyte": 167}
    assert case.report_versions.count() == 1
