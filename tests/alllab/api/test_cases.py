"""Order entry and case reads: shapes, idempotency, filters, lab isolation, every error."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from alllab.analysis.summaries import call_explanation
from alllab.cases.models import Case
from alllab.interop.models import CaseOrder
from tests.alllab.factories import CaseFactory, MembershipFactory

pytestmark = pytest.mark.django_db
CASES = reverse("api:case-list")
CASE_KEYS = {
    "id", "lab", "accession_number", "patient_id", "specimen_collected_at", "clinical_notes", "callback_url",
    "status", "report_status", "n_slides", "summary", "result", "pre_classification", "created_at", "updated_at",
    "links",
}  # fmt: skip


def _order(api, **fields):
    body = {"accession_number": "ACC-100", "patient_id": "PSN-1", **fields}
    return api.post(CASES, body, format="json")


def test_it_creates_a_case_with_201_and_its_full_shape(api, lis):
    response = _order(api, specimen_collected_at="2026-11-28", clinical_notes="Fatigue, bruising.")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == CASE_KEYS
    assert body["lab"] == "north"
    assert body["accession_number"] == "ACC-100"
    assert body["patient_id"] == "PSN-1"
    assert body["specimen_collected_at"] == "2026-11-28"
    assert body["clinical_notes"] == "Fatigue, bruising."
    assert body["status"] == "new"
    assert body["report_status"] == "preliminary"
    assert body["n_slides"] == 0
    assert body["summary"] is None
    assert body["links"]["fhir"] == f"/api/v1/cases/{body['id']}/fhir/"
    case = Case.objects.get(pk=body["id"])
    assert case.created_by == lis[0].user  # the client's service user
    assert CaseOrder.objects.get(case=case).client == lis[0]


def test_it_returns_the_existing_case_with_200_for_a_repeated_order(api):
    first = _order(api)
    again = _order(api, clinical_notes="resent after a timeout")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["clinical_notes"] == ""  # the repeat changes nothing
    assert Case.objects.filter(accession_number="ACC-100").count() == 1


def test_it_treats_the_accession_number_after_trimming_as_the_same(api):
    first = _order(api)
    assert _order(api, accession_number="  ACC-100 ").json()["id"] == first.json()["id"]


def test_it_refuses_a_repeated_accession_for_another_patient_with_409(api):
    _order(api)
    response = _order(api, patient_id="PSN-OTHER")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_it_lets_two_labs_use_the_same_accession_number(api, other_api):
    a, b = _order(api), _order(other_api)
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["id"] != b.json()["id"]


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({}, "accession_number", "required"),
        ({"accession_number": "   "}, "accession_number", "blank"),
        ({"accession_number": "A" * 65}, "accession_number", "max_length"),
        ({"accession_number": "A1", "specimen_collected_at": "yesterday"}, "specimen_collected_at", "invalid"),
        ({"accession_number": "A1", "callback_url": "not a url"}, "callback_url", "invalid"),
        ({"accession_number": "A1", "patient_id": ["x"]}, "patient_id", "invalid"),
    ],
)
def test_it_names_the_bad_field_with_400(api, body, field, code):
    response = api.post(CASES, body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["field"], error["code"]) == (field, code)
    assert error["message"]


def test_it_maps_the_case_models_complaints_to_api_field_names(api):
    # The case model requires a patient pseudonym; the error names the API's field, not the model's.
    response = api.post(CASES, {"accession_number": "A2"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "patient_id"


def test_it_answers_415_for_a_body_that_is_not_json_or_a_form(api):
    response = api.post(CASES, data="<xml/>", content_type="application/xml")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_it_answers_400_for_malformed_json(api):
    response = api.post(CASES, data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_it_refuses_a_pathologist_session_creating_cases_with_403(client, pathologist):
    client.force_login(pathologist)
    response = client.post(CASES, {"accession_number": "A3", "patient_id": "P"}, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_it_asks_a_user_in_two_labs_which_lab(client, technician, other_lab):
    MembershipFactory(user=technician, lab=other_lab, role="technician")
    client.force_login(technician)
    body = {"accession_number": "A4", "patient_id": "P"}
    response = client.post(CASES, body, content_type="application/json")
    assert (response.status_code, response.json()["error"]["field"]) == (400, "lab")
    response = client.post(CASES, {**body, "lab": "south"}, content_type="application/json")
    assert (response.status_code, response.json()["lab"]) == (201, "south")


def test_it_refuses_a_lab_the_user_cannot_write_in(client, technician, other_lab):
    client.force_login(technician)
    response = client.post(
        CASES, {"accession_number": "A5", "patient_id": "P", "lab": "south"}, content_type="application/json"
    )
    assert (response.status_code, response.json()["error"]["field"]) == (400, "lab")


def test_it_lists_only_the_callers_lab_oldest_first(api, lab, other_lab, technician):
    mine = [CaseFactory(lab=lab, created_by=technician) for _ in range(3)]
    CaseFactory(lab=other_lab, created_by=technician)
    body = api.get(CASES).json()
    assert body["count"] == 3
    assert [c["id"] for c in body["results"]] == [c.pk for c in mine]
    assert set(body["results"][0]) == CASE_KEYS
    assert body["next"] is None


def test_it_filters_by_accession_and_status(api, lab, technician):
    CaseFactory(lab=lab, created_by=technician, accession_number="X-1")
    CaseFactory(lab=lab, created_by=technician, accession_number="X-2", status="awaiting_review")
    assert [c["accession_number"] for c in api.get(CASES, {"accession_number": "X-1"}).json()["results"]] == ["X-1"]
    assert [c["accession_number"] for c in api.get(CASES, {"status": "awaiting_review"}).json()["results"]] == ["X-2"]


def test_it_filters_by_updated_since_including_analysis_changes(api, done_case, lab, technician):
    old = CaseFactory(lab=lab, created_by=technician)
    Case.objects.filter(pk__in=[old.pk, done_case[0].pk]).update(updated_at=timezone.now() - dt.timedelta(days=2))
    since = (timezone.now() - dt.timedelta(days=1)).isoformat()
    # done_case's run finished "now" (the factory leaves finished_at empty: set it), old has nothing new.
    run = done_case[2]
    run.finished_at = timezone.now()
    run.save()
    ids = [c["id"] for c in api.get(CASES, {"updated_since": since}).json()["results"]]
    assert ids == [done_case[0].pk]


@pytest.mark.parametrize(("param", "value"), [("status", "bogus"), ("updated_since", "last tuesday"), ("page", "0")])
def test_it_names_a_bad_filter_with_400(api, param, value):
    response = api.get(CASES, {param: value})
    assert (response.status_code, response.json()["error"]["field"]) == (400, param)


def test_it_paginates_fifty_a_page(api, lab, technician):
    for _ in range(51):
        CaseFactory(lab=lab, created_by=technician)
    first = api.get(CASES).json()
    assert (first["count"], len(first["results"])) == (51, 50)
    second = api.get(first["next"]).json()
    assert len(second["results"]) == 1
    assert api.get(CASES, {"page": 9}).status_code == 404


def test_it_shows_a_case_with_its_slides_and_summary(api, done_case):
    case, slide, run, _ = done_case
    body = api.get(reverse("api:case-detail", args=[case.pk])).json()
    assert set(body) == CASE_KEYS | {"slides"}
    assert body["summary"] == {
        "n_cells": 3,
        "n_blast": 1,
        "blast_fraction": pytest.approx(1 / 3),
        "blast_fraction_ci95": [0.0615, 0.7923],
        "max_p_blast": 0.91,
        "call": "suspicious",
        "call_label": "Suspicious",
        "call_explanation": call_explanation("suspicious"),
        "flags": [],
        "model_version": "",
    }
    pre = body["pre_classification"]
    assert pre["source"] == "ai" and "pre-classification" in pre["method"] and pre["n_blast"] == 1
    assert [(m["name"], m["version"]) for m in pre["models"]] == [("hybrid-vgg", "1.2.0")]
    assert body["result"] is None  # not signed: no result, everything is preliminary
    assert body["n_slides"] == 1
    assert [s["id"] for s in body["slides"]] == [slide.pk]
    assert body["slides"][0]["status"] == "done"
    assert body["slides"][0]["run_id"] == run.pk


def test_it_hides_another_labs_case_as_404(other_api, done_case):
    case = done_case[0]
    for name in ("api:case-detail", "api:case-fhir", "api:case-hl7"):
        response = other_api.get(reverse(name, args=[case.pk]))
        assert response.status_code == 404, name
        assert response.json()["error"]["code"] == "not_found"


def test_it_answers_404_in_json_for_an_unknown_api_path(api):
    response = api.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_it_answers_405_for_a_method_the_route_lacks(api, done_case):
    response = api.delete(reverse("api:case-detail", args=[done_case[0].pk]))
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
