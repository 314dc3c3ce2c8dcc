"""The FHIR bundle parses back as R4 and says, field by field, what the stored results say."""

import json

from fhir.resources.R4B.bundle import Bundle

from alllab.analysis.summaries import Summary
from alllab.interop.fhir import fhir_bundle_build, fhir_bundle_json
from alllab.interop.report import SlideResult

from .factories import COLLECTED, ISSUED, done_slide, report


def _parsed(r) -> tuple[Bundle, dict[str, dict]]:
    bundle = Bundle.model_validate_json(fhir_bundle_json(report=r))  # round trip through the wire format
    by_url = {e.fullUrl: json.loads(e.resource.model_dump_json(exclude_none=True)) for e in bundle.entry}
    return bundle, by_url


def _of_type(by_url, kind):
    return {url: res for url, res in by_url.items() if res["resourceType"] == kind}


def _obs_by_code(by_url):
    return {res["code"]["coding"][0]["code"]: res for res in _of_type(by_url, "Observation").values()}


def test_it_builds_a_collection_with_one_report_first():
    bundle, by_url = _parsed(report())
    assert bundle.type == "collection"
    assert bundle.entry[0].resource.__resource_type__ == "DiagnosticReport"
    assert len(_of_type(by_url, "DiagnosticReport")) == 1


def test_it_fills_the_diagnostic_report():
    _, by_url = _parsed(report())
    (dr,) = _of_type(by_url, "DiagnosticReport").values()
    assert dr["status"] == "preliminary"
    codes = [(c["coding"][0]["system"], c["coding"][0]["code"]) for c in dr["category"]]
    assert ("http://terminology.hl7.org/CodeSystem/v2-0074", "LAB") in codes
    assert dr["identifier"][0]["value"] == "ACC-0001"
    assert dr["code"]["coding"][0] == {
        "system": "urn:alllab:codesystem:screening",
        "code": "ALL-SCREEN",
        "display": "Automated blood smear screen for leukaemic blasts",
    }
    assert dr["conclusion"].startswith("Slide smear-1.png: suspicious, 4 of 40")
    assert dr["effectiveDateTime"].startswith(COLLECTED.isoformat()[:19])
    assert dr["issued"].startswith(ISSUED.isoformat()[:19])
    # Every result reference resolves to an Observation inside the bundle.
    refs = [r["reference"] for r in dr["result"]]
    assert len(refs) == 4
    assert all(by_url[ref]["resourceType"] == "Observation" for ref in refs)
    assert by_url[dr["subject"]["reference"]]["identifier"][0]["value"] == "PSN-42"
    assert by_url[dr["performer"][0]["reference"]]["name"] == "North Haematology"


def test_it_reports_cells_counted_with_loinc():
    _, by_url = _parsed(report())
    obs = _obs_by_code(by_url)["11282-1"]
    assert obs["code"]["coding"][0]["system"] == "http://loinc.org"
    assert obs["valueQuantity"] == {"value": 40, "unit": "cells", "system": "http://unitsofmeasure.org",
                                    "code": "{cells}"}  # fmt: skip
    assert obs["status"] == "preliminary"


def test_it_reports_blast_fraction_in_percent_with_its_interval():
    _, by_url = _parsed(report())
    obs = _obs_by_code(by_url)["26446-5"]
    assert obs["code"]["coding"][0]["display"] == "Blasts/100 leukocytes in Blood"
    assert obs["valueQuantity"]["value"] == 10.0
    assert obs["valueQuantity"]["unit"] == "%"
    assert obs["valueQuantity"]["code"] == "%"
    bounds = {c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"] for c in obs["component"]}
    assert bounds == {"CI95-LOW": 3.96, "CI95-HIGH": 23.05}


def test_it_reports_the_call_as_a_local_code_flagged_abnormal():
    _, by_url = _parsed(report())
    obs = _obs_by_code(by_url)["BLAST-CALL"]
    assert obs["code"]["coding"][0]["system"] == "urn:alllab:codesystem:screening"
    assert obs["valueCodeableConcept"]["coding"][0]["code"] == "suspicious"
    assert obs["interpretation"][0]["coding"][0]["code"] == "A"


def test_it_leaves_a_negative_call_uninterpreted():
    neg = Summary(30, 0, 0.0, (0.0, 0.1135), 0.21, "negative")
    _, by_url = _parsed(report(slides=(done_slide(summary=neg),)))
    obs = _obs_by_code(by_url)["BLAST-CALL"]
    assert obs["valueCodeableConcept"]["coding"][0]["code"] == "negative"
    assert "interpretation" not in obs
    assert _obs_by_code(by_url)["MAX-P-BLAST"]["valueQuantity"]["value"] == 0.21


def test_it_names_the_model_and_version_in_a_device_every_observation_points_at():
    _, by_url = _parsed(report())
    (url, device) = next(iter(_of_type(by_url, "Device").items()))
    assert device["deviceName"][0] == {"name": "hybrid-vgg", "type": "model-name"}
    assert device["version"] == [{"value": "1.2.0"}]
    assert all(o["device"]["reference"] == url for o in _of_type(by_url, "Observation").values())


def test_it_skips_slides_without_results_but_names_them_in_the_conclusion():
    r = report(slides=(done_slide(1), SlideResult(2, "bad.png", "failed", error="not an image")))
    _, by_url = _parsed(r)
    assert len(_of_type(by_url, "Observation")) == 4
    (dr,) = _of_type(by_url, "DiagnosticReport").values()
    assert "bad.png: analysis failed (not an image)" in dr["conclusion"]


def test_it_carries_final_and_amended_status_to_every_resource():
    for status in ("final", "amended"):
        _, by_url = _parsed(report(status=status, conclusion="Reviewed."))
        statuses = {
            res["status"] for res in by_url.values() if res["resourceType"] in {"DiagnosticReport", "Observation"}
        }
        assert statuses == {status}


def test_it_omits_the_patient_when_there_is_no_pseudonym():
    _, by_url = _parsed(report(patient_id=""))
    assert not _of_type(by_url, "Patient")
    assert "subject" not in next(iter(_of_type(by_url, "DiagnosticReport").values()))


def test_it_gives_the_same_ids_when_built_twice():
    a = [e.fullUrl for e in fhir_bundle_build(report=report()).entry]
    b = [e.fullUrl for e in fhir_bundle_build(report=report()).entry]
    assert a == b
    assert len(set(a)) == len(a)


def test_it_sends_a_bare_date_when_only_the_day_is_known():
    import datetime as dt

    _, by_url = _parsed(report(specimen_collected_at=dt.date(2026, 11, 28)))
    (dr,) = _of_type(by_url, "DiagnosticReport").values()
    assert dr["effectiveDateTime"] == "2026-11-28"


def test_it_reports_the_whole_case_first_when_the_case_has_a_summary():
    case = Summary(n_cells=70, n_blast=4, blast_fraction=4 / 70, blast_fraction_ci95=(0.0225, 0.1378),
                        max_p_blast=0.9731, call="suspicious")  # fmt: skip
    neg = Summary(30, 0, 0.0, (0.0, 0.1135), 0.21, "negative")
    _, by_url = _parsed(report(slides=(done_slide(1), done_slide(2, summary=neg)), case_summary=case))
    (dr,) = _of_type(by_url, "DiagnosticReport").values()
    results = [by_url[r["reference"]] for r in dr["result"]]
    assert len(results) == 12
    whole = {r["code"]["coding"][0]["code"]: r for r in results[:4]}
    assert whole["11282-1"]["valueQuantity"]["value"] == 70
    assert whole["26446-5"]["valueQuantity"]["value"] == 5.71
    assert whole["BLAST-CALL"]["valueCodeableConcept"]["coding"][0]["code"] == "suspicious"
    assert whole["11282-1"]["note"][0]["text"] == "Whole case: every cell of the 2 analysed slides"
    assert "device" in whole["11282-1"]  # one model for both slides


def test_it_names_no_single_device_for_a_case_analysed_by_two_models():
    case = Summary(70, 4, 4 / 70, (0.0225, 0.1378), 0.9731, "suspicious")
    r = report(slides=(done_slide(1), done_slide(2, model_version="2.0")), case_summary=case)
    _, by_url = _parsed(r)
    assert len(_of_type(by_url, "Device")) == 2
    whole = next(o for o in _of_type(by_url, "Observation").values() if o["note"][0]["text"].startswith("Whole"))
    assert "device" not in whole
