"""In Debian's chromium: sign in, upload a smear on the case page, watch it finish, open the gallery, screenshot."""

import pytest
from playwright import sync_api

from tests.alllab.browser import ARTIFACTS, CHROMIUM, open_signed_in
from tests.alllab.factories import CaseFactory
from tests.alllab.smear import smear_png

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


def test_it_uploads_a_smear_and_shows_the_gallery(live_server, live_worker, technician, lab, monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM is only used before and after it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    case = CaseFactory(lab=lab, created_by=technician, accession_number="BROWSER-1")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser, page = open_signed_in(pw, live_server.url, technician)
        page.wait_for_url("**/cases/")

        page.goto(f"{live_server.url}/cases/{case.id}/")
        smear = {"name": "smear-1.png", "mimeType": "image/png", "buffer": smear_png(seed=5)}
        page.set_input_files("#upload-input", files=[smear])
        page.locator("#upload-list li.done").wait_for(timeout=30_000)
        page.locator("#slide-rows .status-done").wait_for(timeout=240_000)  # live status, no reload
        # the upload list follows the table to Done (it used to keep "Uploaded, queued"), and the row has a thumbnail
        expect = sync_api.expect
        expect(page.locator("#upload-list li.done .upload-msg")).to_contain_text("Analysed")
        expect(page.locator("#slide-rows td.thumb img")).to_have_count(1)
        bad = {"name": "notes.png", "mimeType": "image/png", "buffer": b"these are not pixels"}
        page.set_input_files("#upload-input", files=[bad])
        refused = page.locator("#upload-list li.failed")
        expect(refused.locator(".upload-refused")).to_have_text("Not stored")  # not a full bar like a good one
        expect(refused.locator("progress")).to_have_count(0)
        page.screenshot(path=str(ARTIFACTS / "case.png"), full_page=True)

        page.get_by_role("link", name="smear-1.png").click()
        page.locator("#smear img").wait_for()
        cards = page.locator(".cell-card")
        assert cards.count() > 0
        cards.first.hover()
        page.screenshot(path=str(ARTIFACTS / "gallery.png"), full_page=True)
        assert page.locator("polygon.outline").count() == cards.count()
        assert page.get_by_text("Blast fraction").is_visible()
        browser.close()
