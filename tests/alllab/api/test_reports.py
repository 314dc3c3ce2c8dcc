"""FHIR and HL7 endpoints: parsed back, field by field, against the stored numbers; final once signed off."""

import json

import pytest
from django.urls import reverse
from fhir.resources.R4B.bundle import Bundle
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from alllab.cases.models import Case

pytestmark = pytest.mark.django_db


def _bundle(api, case) -> dict[str, dict]:
    response = api.get(reverse("api:case-fhir", args=[case.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate_json(response.content)
    return {e.fullUrl: json.loads(e.resource.model_dump_json(exclude_none=True)) for e in bundle.entry}


def test_it_serves_a_valid_fhir_bundle_with_the_stored_numbers(api, done_case):
    case = done_case[0]
    resources = _bundle(api, case)
    (report,) = [r for r in resources.values() if r["resourceType"] == "DiagnosticReport"]
    assert report["status"] == "preliminary"
    assert report["identifier"][0]["value"] == "ACC-DONE"
    assert "smear one.png: suspicious, 1 of 3 white cells" in report["conclusion"]
    results = [resources[ref["reference"]] for ref in report["result"]]
    codes = ["11282-1", "26446-5", "BLAST-CALL", "MAX-P-BLAST"]
    assert [r["code"]["coding"][0]["code"] for r in results] == codes * 2  # the whole case, then the one slide
    assert results[0]["note"][0]["text"].startswith("Whole case")
    assert results[4]["note"][0]["text"].startswith("Slide smear one.png")
    obs = {r["code"]["coding"][0]["code"]: r for r in results[4:]}
    assert obs["11282-1"]["valueQuantity"]["value"] == 3
    assert obs["26446-5"]["valueQuantity"]["value"] == 33.33
    assert obs["26446-5"]["valueQuantity"]["unit"] == "%"
    assert obs["BLAST-CALL"]["valueCodeableConcept"]["coding"][0]["code"] == "suspicious"
    (device,) = [r for r in resources.values() if r["resourceType"] == "Device"]
    assert device["deviceName"][0]["name"] == "hybrid-vgg"
    assert device["version"][0]["value"] == "1.2.0"
    (patient,) = [r for r in resources.values() if r["resourceType"] == "Patient"]
    assert patient["identifier"][0]["value"] == "PSN-7"


def test_it_serves_fhir_as_plain_json_when_asked(api, done_case):
    response = api.get(reverse("api:case-fhir", args=[done_case[0].pk]), HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["resourceType"] == "Bundle"


def test_it_marks_a_signed_off_case_final(api, done_case):
    case = done_case[0]
    Case.objects.filter(pk=case.pk).update(status=Case.Status.SIGNED_OFF)
    resources = _bundle(api, case)
    statuses = {r["status"] for r in resources.values() if r["resourceType"] in {"DiagnosticReport", "Observation"}}
    assert statuses == {"final"}
    response = api.get(reverse("api:case-hl7", args=[case.pk]))
    obr = next(s for s in response.content.decode().split("\r") if s.startswith("OBR|"))
    assert obr.split("|")[25] == "F"


def test_it_serves_a_valid_hl7_oru_with_the_stored_numbers(api, done_case):
    response = api.get(reverse("api:case-hl7", args=[done_case[0].pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("x-application/hl7-v2+er7")
    er7 = response.content.decode()
    message = parse_message(er7, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    message.validate()
    assert message.msh.msh_9.to_er7() == "ORU^R01^ORU_R01"
    segments = [s.split("|") for s in er7.split("\r") if s]
    pid = next(s for s in segments if s[0] == "PID")
    assert pid[3] == "PSN-7^^^north^PI"
    assert [s[4] for s in segments if s[0] == "OBX"] == ["0"] * 4 + ["1"] * 4  # whole case, then slide 1
    obx = {s[3].split("^")[0]: s for s in segments if s[0] == "OBX" and s[4] == "1"}
    assert obx["11282-1"][5] == "3"
    assert obx["26446-5"][5] == "33.33"
    assert obx["BLAST-CALL"][5].startswith("suspicious^")
    assert obx["MAX-P-BLAST"][5] == "0.9100"
    assert {s[11] for s in obx.values()} == {"P"}


def test_it_answers_errors_from_the_report_endpoints_in_json(anon, done_case):
    response = anon.get(reverse("api:case-hl7", args=[done_case[0].pk]))
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "not_authenticated"


def test_it_reports_a_case_without_results_as_pending(api, lab, technician):
    from tests.alllab.factories import CaseFactory

    case = CaseFactory(lab=lab, created_by=technician)
    resources = _bundle(api, case)
    (report,) = [r for r in resources.values() if r["resourceType"] == "DiagnosticReport"]
    assert "result" not in report
    assert report["conclusion"].startswith("No slides received.")
    er7 = api.get(reverse("api:case-hl7", args=[case.pk])).content.decode()
    assert not [s for s in er7.split("\r") if s.startswith("OBX|")]
