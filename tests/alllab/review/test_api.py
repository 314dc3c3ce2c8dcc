"""The LIS side of the review: the PDF over the API, and FHIR/HL7 statuses that follow sign-off and amendment."""

import json
import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from alllab.accounts.scope import scope_for_user
from alllab.api.services import lis_client_create
from alllab.review.services import case_amend, case_sign_off, cell_reclassify
from tests.alllab.review.conftest import review_rest

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(lab):
    _, token = lis_client_create(name="review-lis", lab=lab)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _report_status(api, case) -> tuple[str, str, str]:
    bundle = json.loads(api.get(reverse("api:case-fhir", args=[case.pk])).content)
    (report,) = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DiagnosticReport"]
    er7 = api.get(reverse("api:case-hl7", args=[case.pk])).content.decode()
    obr = next(s for s in er7.split("\r") if s.startswith("OBR|"))
    return report["status"], obr.split("|")[25], report.get("conclusion", "")


def test_it_serves_the_pdf_to_the_cases_lab_only(api, review_case, other_lab):
    case, _, _ = review_case
    response = api.get(reverse("api:case-report-pdf", args=[case.pk]), HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")
    _, other_token = lis_client_create(name="south-lis", lab=other_lab)
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {other_token}")
    missing = other.get(reverse("api:case-report-pdf", args=[case.pk]))
    assert missing.status_code == 404 and missing["Content-Type"].startswith("application/json")
    assert APIClient().get(reverse("api:case-report-pdf", args=[case.pk])).status_code == 401


def test_the_report_status_follows_sign_off_and_amendment(api, review_case, pathologist):
    case, cells, _ = review_case
    assert _report_status(api, case)[:2] == ("preliminary", "P")
    cell_reclassify(
        scope=scope_for_user(pathologist), user=pathologist, case=case, cell_ids=[cells[0].id], label="blast"
    )
    review_rest(case, pathologist, label="artefact")
    case_sign_off(scope=scope_for_user(pathologist), user=pathologist, case=case, interpretation="blasts_present")
    status, obr_status, conclusion = _report_status(api, case)
    assert (status, obr_status) == ("final", "F")
    assert conclusion.startswith("Blasts present: suggest flow cytometry.")
    assert "blasts 1 of 1 white cells" in conclusion
    case_amend(
        scope=scope_for_user(pathologist),
        user=pathologist,
        case=case,
        interpretation="no_blasts",
        reason="Artefact, not a blast.",
    )
    status, obr_status, conclusion = _report_status(api, case)
    assert (status, obr_status) == ("amended", "C")
    assert "Amended (version 2): Artefact, not a blast." in conclusion
    assert re.search(rf"Signed by {pathologist.username} at \d{{4}}-\d\d-\d\d \d\d:\d\d UTC\.$", conclusion)
    assert api.get(reverse("api:case-detail", args=[case.pk])).json()["report_status"] == "amended"
