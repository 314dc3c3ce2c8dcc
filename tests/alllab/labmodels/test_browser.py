"""In Debian's chromium: the Models page, an adaptation's live progress, the candidate's comparison, activation."""

from __future__ import annotations

import pytest
from django.conf import settings
from playwright import sync_api

from alllab.labmodels.models import LabModel
from tests.alllab.browser import ARTIFACTS, CHROMIUM, open_signed_in
from tests.alllab.labmodels.conftest import review_cells

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
    pytest.mark.skipif(not settings.CELERY_BROKER_URL.startswith("redis"), reason="needs REDIS_URL (a Redis broker)"),
]


def test_it_adapts_and_activates_from_the_models_page(
    live_server, training_worker, small_rules, lab, lab_admin, pathologist, monkeypatch
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    small_rules.ALLLAB_ADAPT_EPOCHS = 3
    review_cells(lab=lab, reviewer=pathologist)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser, page = open_signed_in(pw, live_server.url, lab_admin)
        page.wait_for_url("**/cases/")
        page.goto(f"{live_server.url}/lab/models/")
        assert page.locator("#n-reviewed").inner_text() == "36"
        page.locator("#adapt").click()
        page.locator("#job-progress").wait_for()  # the running job's live block replaced the button
        page.screenshot(path=str(ARTIFACTS / "models-progress.png"), full_page=True)
        # The page polls the job and reloads when it ends: the candidate appears in the versions table.
        page.locator("#versions tr[data-status='candidate'] a").wait_for(timeout=240_000)
        page.locator("#versions tr[data-status='candidate'] a").click()
        page.locator("#comparison").wait_for()
        assert page.locator("#comparison tr[data-metric='auroc'] td.candidate").inner_text()
        assert page.locator("#gate").inner_text() == "passed"
        page.screenshot(path=str(ARTIFACTS / "models-candidate.png"), full_page=True)
        page.locator("#activate").click()
        page.wait_for_url("**/lab/models/?lab=*")
        candidate = LabModel.objects.get(lab=lab, kind="adapted")
        assert page.locator("#active-model").get_attribute("data-sha256") == candidate.sha256
        assert page.locator("#rollback").is_visible()
        browser.close()
    candidate.refresh_from_db()
    assert candidate.status == "active" and candidate.activated_by == lab_admin
