"""Review pages and the JSON reclassify endpoint: single and bulk changes, CSRF, roles, lab isolation."""

import json

import pytest
from django.test import Client

from alllab.review.models import CellReview, ReportVersion
from tests.alllab.factories import CaseFactory
from tests.alllab.review.conftest import review_rest

pytestmark = pytest.mark.django_db


def _post(client, case, cell_ids, label, **extra):
    return client.post(
        f"/review/cases/{case.id}/cells/",
        json.dumps({"cells": cell_ids, "label": label}),
        content_type="application/json",
        **extra,
    )


def test_it_shows_every_current_cell_most_likely_blast_first_with_its_review(path_client, review_case):
    case, cells, old_cell = review_case
    CellReview.objects.create(cell=cells[0], label="artefact", reviewed_by=case.created_by, reviewed_at=case.created_at)
    page = path_client.get(f"/review/cases/{case.id}/")
    assert page.status_code == 200
    html = page.text
    for cell in cells:
        assert f'data-cell="{cell.id}"' in html
    assert f'data-cell="{old_cell.id}"' not in html  # a superseded run's cell is not reviewed
    shown = page.context["cells"]
    assert [c.p_blast for c in shown] == sorted((c.p_blast for c in cells), reverse=True)
    assert [c.review_label for c in shown] == ["artefact"] + [""] * 5
    assert html.count('class="review-cell reviewed"') == 1 and html.count('class="review-cell unreviewed"') == 5
    assert 'data-filter="unreviewed"' in html and 'id="class-filter"' in html
    assert 'id="review-form"' in html and "Review and sign off" in html
    assert "5 of 6 cells are not reviewed" in html


def test_it_reclassifies_one_cell_and_returns_the_new_counts(path_client, review_case, pathologist):
    case, cells, _ = review_case
    response = _post(path_client, case, [cells[-1].id], "blast")
    assert response.status_code == 200
    body = response.json()
    assert body["changed"] == [cells[-1].id] and body["display"] == "Blast"
    assert 'data-testid="n-reviewed">1 ' in body["counts_html"]
    review = CellReview.objects.get(cell=cells[-1])
    assert review.label == "blast" and review.reviewed_by == pathologist


def test_it_reclassifies_in_bulk(path_client, review_case):
    case, cells, _ = review_case
    ids = [c.id for c in cells]
    response = _post(path_client, case, ids, "lymphocyte")
    assert response.status_code == 200 and sorted(response.json()["changed"]) == sorted(ids)
    assert set(CellReview.objects.values_list("label", flat=True)) == {"lymphocyte"}
    assert CellReview.objects.count() == 6
    assert 'data-testid="reviewed-lymphocyte">6<' in response.json()["counts_html"]


def test_it_answers_bad_requests_with_a_json_error(path_client, review_case):
    case, cells, _ = review_case
    bad_body = path_client.post(f"/review/cases/{case.id}/cells/", "not json", content_type="application/json")
    assert bad_body.status_code == 400 and "Send JSON" in bad_body.json()["error"]
    bad_label = _post(path_client, case, [cells[0].id], "normal")
    assert bad_label.status_code == 400 and "Unknown label" in bad_label.json()["error"]
    assert path_client.get(f"/review/cases/{case.id}/cells/").status_code == 405
    assert not CellReview.objects.exists()


def test_it_forbids_technicians_to_reclassify_and_sign(tech_client, review_case):
    case, cells, _ = review_case
    page = tech_client.get(f"/review/cases/{case.id}/")
    assert page.status_code == 200 and 'id="review-form"' not in page.text
    assert _post(tech_client, case, [cells[0].id], "blast").status_code == 403
    response = tech_client.post(f"/review/cases/{case.id}/sign/", {"interpretation": "no_blasts"})
    assert response.status_code == 403
    assert not CellReview.objects.exists() and not ReportVersion.objects.exists()


def test_it_needs_the_csrf_token(pathologist, review_case):
    case, cells, _ = review_case
    client = Client(enforce_csrf_checks=True)
    client.force_login(pathologist)
    assert _post(client, case, [cells[0].id], "blast").status_code == 403
    page = client.get(f"/review/cases/{case.id}/")
    token = page.context["csrf_token"]
    assert _post(client, case, [cells[0].id], "blast", HTTP_X_CSRFTOKEN=str(token)).status_code == 200


def test_it_hides_another_labs_case(path_client, other_lab):
    case = CaseFactory(lab=other_lab)
    assert path_client.get(f"/review/cases/{case.id}/").status_code == 404
    assert _post(path_client, case, [1], "blast").status_code == 404
    assert path_client.get(f"/review/cases/{case.id}/report.pdf").status_code == 404


def test_it_signs_and_amends_through_the_form(path_client, review_case, pathologist):
    case, _, _ = review_case
    refused = path_client.post(f"/review/cases/{case.id}/sign/", {"interpretation": "no_blasts", "confirmed": "1"})
    assert refused.status_code == 400 and "6 of 6 cells are not reviewed" in refused.text
    review_rest(case, pathologist)
    asked = path_client.post(f"/review/cases/{case.id}/sign/", {"interpretation": "no_blasts", "text": ""})
    assert asked.status_code == 200 and "You are signing the final report" in asked.text
    assert not ReportVersion.objects.exists()
    confirmed = {"interpretation": "no_blasts", "text": "", "confirmed": "1"}
    response = path_client.post(f"/review/cases/{case.id}/sign/", confirmed)
    assert response.status_code == 302
    page = path_client.get(f"/review/cases/{case.id}/")
    assert "Report version 1 signed (final)" in page.text and "sign amended version 2" in page.text
    again = path_client.post(f"/review/cases/{case.id}/sign/", {"interpretation": "blasts_present"}, follow=True)
    assert "already signed" in again.text
    no_reason = path_client.post(
        f"/review/cases/{case.id}/amend/", {"interpretation": "free_text", "text": "Typed with care."}
    )
    assert no_reason.status_code == 400 and "needs a reason" in no_reason.text
    assert "Typed with care.</textarea>" in no_reason.text  # what was typed comes back
    assert 'value="free_text" required checked' in no_reason.text
    amend = {"interpretation": "blasts_present", "reason": "Rechecked.", "confirmed": "1"}
    path_client.post(f"/review/cases/{case.id}/amend/", amend)
    assert list(ReportVersion.objects.values_list("number", "kind")) == [(1, "final"), (2, "amended")]


def test_it_shows_the_audit_trail_to_pathologists_and_lab_admins_only(
    client, review_case, pathologist, lab_admin, technician
):
    case, cells, _ = review_case
    client.force_login(pathologist)
    _post(client, case, [cells[0].id], "unsure")
    for user in (pathologist, lab_admin):
        client.force_login(user)
        page = client.get(f"/review/cases/{case.id}/audit/")
        assert page.status_code == 200
        assert 'data-action="reclassify"' in page.text and 'data-action="upload"' in page.text
    client.force_login(technician)
    assert client.get(f"/review/cases/{case.id}/audit/").status_code == 403


def test_the_case_page_links_to_the_review_and_the_pdf(tech_client, review_case):
    case, _, _ = review_case
    page = tech_client.get(f"/cases/{case.id}/")
    assert f'href="/review/cases/{case.id}/"' in page.text and f'href="/review/cases/{case.id}/report.pdf"' in page.text


def test_any_member_of_the_lab_downloads_the_pdf_from_the_case(tech_client, review_case):
    case, _, _ = review_case
    response = tech_client.get(f"/review/cases/{case.id}/report.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="report-{case.id}.pdf"'
    assert response.content.startswith(b"%PDF")


def test_it_handles_a_case_without_slides(path_client, lab, pathologist):
    case = CaseFactory(lab=lab)
    page = path_client.get(f"/review/cases/{case.id}/")
    assert page.status_code == 200 and "No analysed cells yet" in page.text
    assert path_client.get(f"/review/cases/{case.id}/report.pdf").content.startswith(b"%PDF")
    refused = path_client.post(f"/review/cases/{case.id}/sign/", {"interpretation": "no_blasts"}, follow=True)
    assert "No slide of this case has a finished analysis" in refused.text
    assert not ReportVersion.objects.exists()
