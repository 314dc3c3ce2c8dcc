"""In Debian's chromium: reclassify cells with the keyboard (class key, Enter), in bulk (Space, class key) and by
click, each saved without a page reload, and the counts panel following."""

import pytest
from playwright import sync_api

from alllab.review.models import AuditEvent, CellReview
from tests.alllab.browser import ARTIFACTS, CHROMIUM, open_signed_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


def test_it_reclassifies_by_keyboard_in_bulk_and_by_click(live_server, review_case, pathologist, monkeypatch):
    expect = sync_api.expect
    # Playwright's sync API runs an event loop in this thread; the ORM is only used before and after it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    case, cells, _ = review_case  # most likely blast first: 0.95, 0.8, 0.7 (AI blast), 0.4, 0.2, 0.1
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser, page = open_signed_in(pw, live_server.url, pathologist)
        page.wait_for_url("**/")
        page.goto(f"{live_server.url}/review/cases/{case.id}/")
        page.evaluate("window.__notReloaded = true")
        message = page.locator("#review-message")
        card = lambda cell: page.locator(f'.review-cell[data-cell="{cell.id}"]')  # noqa: E731

        # Keyboard: focus the first cell, A (smudge/artefact), Enter saves and moves on; L (lymphocyte), Enter.
        card(cells[0]).click()
        page.keyboard.press("a")
        assert "Enter sets 1 cell to Smudge cell or artefact" in message.text_content()
        page.keyboard.press("Enter")
        expect(message).to_have_text("Saved: 1 cell set to Smudge cell or artefact.")
        assert card(cells[1]).evaluate("el => el === document.activeElement")
        page.keyboard.press("l")
        page.keyboard.press("Enter")
        expect(card(cells[1])).to_have_attribute("data-label", "lymphocyte")

        # Bulk: Space selects the focused cell, ArrowRight moves, Space selects, O then Enter sets both.
        assert card(cells[2]).evaluate("el => el === document.activeElement")
        page.keyboard.press("Space")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("Space")
        assert page.locator(".review-cell.selected").count() == 2
        page.keyboard.press("o")
        page.keyboard.press("Enter")
        expect(page.locator(".review-cell.selected")).to_have_count(0)
        expect(card(cells[2])).to_have_attribute("data-label", "other_wbc")
        expect(card(cells[3])).to_have_attribute("data-label", "other_wbc")

        # Click: a cell, then a class button saves at once.
        card(cells[5]).click()
        page.get_by_role("button", name="Blast B").click()
        expect(card(cells[5])).to_have_attribute("data-label", "blast")
        expect(page.locator('[data-testid="n-reviewed"]')).to_have_text("5 of 6")
        expect(page.locator('[data-testid="reviewed-other_wbc"]')).to_have_text("2")
        assert page.evaluate("window.__notReloaded === true")  # every change went by fetch
        page.screenshot(path=str(ARTIFACTS / "review.png"), full_page=True)
        browser.close()

    labels = dict(CellReview.objects.values_list("cell_id", "label"))
    assert labels == {
        cells[0].id: "artefact",
        cells[1].id: "lymphocyte",
        cells[2].id: "other_wbc",
        cells[3].id: "other_wbc",
        cells[5].id: "blast",
    }
    bulk = AuditEvent.objects.filter(action="reclassify", detail__bulk=True).count()
    assert bulk == 2 and AuditEvent.objects.filter(action="reclassify").count() == 5
