"""What the LIS receives beyond the signed differential: the unvalidated call, the model that made the numbers, no
number from too few cells, and an amendment carrying the new reviewed values.

Read back with parsers that share nothing with the builders: ``hl7`` for the ER7 text, ``fhir.resources`` R4B for the
FHIR JSON.
"""

from __future__ import annotations

import hl7
import pytest
from django.urls import reverse
from fhir.resources.R4B.bundle import Bundle

from alllab.accounts.scope import scope_for_user
from alllab.analysis.models import AnalysisRun
from alllab.analysis.services import case_summary_refresh
from alllab.analysis.summaries import call_explanation
from alllab.labmodels.models import LabModel
from alllab.review.services import case_amend, case_sign_off, cell_reclassify
from tests.alllab.factories import AnalysisRunFactory, CaseFactory, CellFactory, SlideFactory

pytestmark = pytest.mark.django_db
SHA = "ab" * 32
AI_METHOD = "AI-PRECLASS"


def _case(lab, technician, *, p_blasts, call, flags=(), **run_fields):
    case = CaseFactory(lab=lab, created_by=technician, accession_number=f"ACC-{call}", patient_pseudonym="PSN-3")
    slide = SlideFactory(case=case, original_filename="field.png")
    n_blast = sum(p >= 0.5 for p in p_blasts)
    run = AnalysisRunFactory(
        slide=slide,
        status=AnalysisRun.Status.DONE,
        model_name="hybrid-vgg",
        model_version=run_fields.pop("model_version", "1.2.0"),
        n_cells=len(p_blasts),
        n_blast=n_blast,
        blast_fraction=n_blast / len(p_blasts),
        blast_fraction_ci95_lo=0.0,
        blast_fraction_ci95_hi=1.0,
        max_p_blast=max(p_blasts),
        call=call,
        flags=list(flags),
        quality={"focus": 100.0, "stain": {}, "flags": list(flags), "ok": True},
        **run_fields,
    )
    cells = [CellFactory(run=run, index=i, p_blast=p) for i, p in enumerate(p_blasts)]
    case_summary_refresh(case=case)
    case.refresh_from_db()
    return case, cells


def _fhir(api, case) -> list[dict]:
    response = api.get(reverse("api:case-fhir", args=[case.pk]))
    assert response.status_code == 200
    bundle = Bundle.model_validate_json(response.content)
    return [e.resource.model_dump(mode="json", exclude_none=True) for e in bundle.entry]


def _observations(resources, code) -> list[dict]:
    return [r for r in resources if r["resourceType"] == "Observation" and r["code"]["coding"][0]["code"] == code]


def _hl7(api, case) -> hl7.Message:
    response = api.get(reverse("api:case-hl7", args=[case.pk]))
    assert response.status_code == 200
    return hl7.parse(response.content.decode())


def _obx_with_notes(message: hl7.Message) -> list[tuple[hl7.Segment, list[str]]]:
    """Each OBX with the text of the NTEs that follow it."""
    rows: list[tuple[hl7.Segment, list[str]]] = []
    for seg in message:
        name = str(seg(0))
        if name == "OBX":
            rows.append((seg, []))
        elif name == "NTE" and rows:
            rows[-1][1].append(str(seg(3)))
    return rows


def _code(seg: hl7.Segment) -> str:
    return str(seg(3)(1)(1)(1))


def test_it_shows_the_unvalidated_call_with_its_explanation_in_json_fhir_and_hl7(api, lab, technician):
    case, _ = _case(lab, technician, p_blasts=(0.1,) * 20, call="unvalidated", flags=("out_of_domain", "domain_stain"))
    assert case.call == "unvalidated"  # the case's summary, through summarize: never negative out of domain

    body = api.get(reverse("api:case-detail", args=[case.pk])).json()
    for called in (body["summary"], body["pre_classification"], body["slides"][0]):
        assert called["call"] == "unvalidated"
        assert called["call_label"] == "Unvalidated"
        assert called["call_explanation"] == call_explanation("unvalidated")

    calls = _observations(_fhir(api, case), "BLAST-CALL")
    assert len(calls) == 2  # the whole case and the slide
    for obs in calls:
        assert obs["valueCodeableConcept"]["coding"][0]["code"] == "unvalidated"
        assert call_explanation("unvalidated") in obs["valueCodeableConcept"]["text"]
        assert obs["interpretation"][0]["coding"][0]["code"] == "IND"  # indeterminate, never normal

    rows = [(seg, notes) for seg, notes in _obx_with_notes(_hl7(api, case)) if _code(seg) == "BLAST-CALL"]
    assert len(rows) == 2
    for seg, notes in rows:
        assert str(seg(5)(1)(1)(1)) == "unvalidated"
        assert str(seg(8)) == "A"  # held for a person; 2.5.1 table 0078 has no "indeterminate"
        assert any("review every cell" in n for n in notes)


def test_it_names_the_lab_model_version_and_sha256_in_fhir_device_hl7_and_json(api, lab, technician):
    model = LabModel.objects.create(
        lab=lab, kind=LabModel.Kind.ADAPTED, status=LabModel.Status.ACTIVE, name="hybrid-vgg", version="1.2.0-north.1",
        sha256=SHA,
    )  # fmt: skip
    case, _ = _case(
        lab, technician, p_blasts=(0.9, 0.2, 0.1, 0.1), call="suspicious", model_version="1.2.0-north.1",
        model_sha256=SHA, lab_model=model,
    )  # fmt: skip

    resources = _fhir(api, case)
    (device,) = [r for r in resources if r["resourceType"] == "Device"]
    ids = {i["system"]: i["value"] for i in device["identifier"]}
    assert ids["urn:alllab:model-sha256"] == SHA
    assert ids[f"urn:alllab:{lab.slug}:lab-model"] == str(model.pk)
    assert device["version"][0]["value"] == "1.2.0-north.1"
    assert "adapted to this lab" in device["deviceName"][1]["name"]

    for seg, notes in _obx_with_notes(_hl7(api, case)):
        assert str(seg(17)(1)(1)(1)) == AI_METHOD
        equipment = seg(18)
        assert (str(equipment(1)(1)), str(equipment(1)(2)), str(equipment(1)(3))) == (
            "hybrid-vgg",
            "1.2.0-north.1",
            SHA,
        )
        if _code(seg) == "11282-1":
            assert any(f"lab model #{model.pk}, adapted to this lab" in n and SHA in n for n in notes)

    body = api.get(reverse("api:case-detail", args=[case.pk])).json()
    (used,) = body["pre_classification"]["models"]
    assert used["sha256"] == SHA and used["lab_model"]["id"] == model.pk and used["lab_model"]["kind"] == "adapted"
    assert body["slides"][0]["model_sha256"] == SHA and body["slides"][0]["lab_model"]["id"] == model.pk


def test_it_sends_no_blast_fraction_number_from_a_single_cell(api, lab, technician):
    case, _ = _case(lab, technician, p_blasts=(0.1,), call="insufficient")

    for obs in _observations(_fhir(api, case), "26446-5"):
        assert "valueQuantity" not in obs and "component" not in obs
        codes = {c["code"] for c in obs["dataAbsentReason"]["coding"]}
        assert codes == {"unknown", "too-few-cells"}
    assert all(o["valueQuantity"]["value"] == 1 for o in _observations(_fhir(api, case), "11282-1"))

    rows = [(seg, notes) for seg, notes in _obx_with_notes(_hl7(api, case)) if _code(seg) == "26446-5"]
    assert len(rows) == 2
    for seg, notes in rows:
        assert str(seg(5)) == ""
        assert str(seg(11)) == "X"  # results cannot be obtained (table 0085)
        assert any("too few readable white cells" in n and "too-few-cells" in n for n in notes)


def test_it_sends_no_blast_fraction_number_in_the_json_from_a_single_cell(api, lab, technician):
    case, _ = _case(lab, technician, p_blasts=(0.1,), call="insufficient")
    body = api.get(reverse("api:case-detail", args=[case.pk])).json()
    for part in (body["pre_classification"], body["slides"][0]):
        assert part["blast_fraction"] is None and part["blast_fraction_ci95"] is None
        assert part["no_fraction_reason"] == "too-few-cells"
        assert part["n_cells"] == 1


def test_it_sends_no_blast_fraction_number_from_an_unreadable_slide(api, lab, technician):
    case, _ = _case(lab, technician, p_blasts=(0.1,) * 150, call="insufficient", flags=("out_of_focus",))
    rows = [(seg, notes) for seg, notes in _obx_with_notes(_hl7(api, case)) if _code(seg) == "26446-5"]
    slide = [seg for seg, _ in rows if str(seg(4)) == "1"]
    assert [(str(s(5)), str(s(11))) for s in slide] == [("", "X")]
    body = api.get(reverse("api:case-detail", args=[case.pk])).json()
    assert body["slides"][0]["blast_fraction"] is None and body["slides"][0]["n_cells"] == 150


def test_it_sends_an_amendment_as_corrected_with_the_new_reviewed_values(api, lab, technician, pathologist):
    case, cells = _case(lab, technician, p_blasts=(0.9, 0.8, 0.2, 0.1), call="suspicious")
    labels = ("blast", "blast", "lymphocyte", "neutrophil")
    for cell, label in zip(cells, labels, strict=True):
        cell_reclassify(scope=scope_for_user(pathologist), user=pathologist, case=case, cell_ids=[cell.id], label=label)
    case_sign_off(scope=scope_for_user(pathologist), user=pathologist, case=case, interpretation="blasts_present")
    first = [o for o in _observations(_fhir(api, case), "26446-5") if o["method"]["coding"][0]["code"] != AI_METHOD]

    cell_reclassify(
        scope=scope_for_user(pathologist), user=pathologist, case=case, cell_ids=[cells[1].id], label="monocyte"
    )
    case_amend(
        scope=scope_for_user(pathologist),
        user=pathologist,
        case=case,
        interpretation="blasts_present",
        reason="Cell 2 is a monocyte.",
    )

    reviewed = [o for o in _observations(_fhir(api, case), "26446-5") if o["method"]["coding"][0]["code"] != AI_METHOD]
    assert [o["valueQuantity"]["value"] for o in first] == [50.0]
    assert [(o["valueQuantity"]["value"], o["status"]) for o in reviewed] == [(25.0, "amended")]
    assert reviewed[0]["id"] == first[0]["id"]  # the same Observation, amended

    message = _hl7(api, case)
    assert str(message.segment("OBR")(25)) == "C"
    rows = [s for s, _ in _obx_with_notes(message) if _code(s) == "26446-5" and str(s(17)(1)(1)(1)) != AI_METHOD]
    assert [(str(s(5)), str(s(11)), str(s(4))) for s in rows] == [("25.00", "C", "R")]
    monocytes = [s for s, _ in _obx_with_notes(message) if _code(s) == "26485-3"]
    assert [str(s(5)) for s in monocytes] == ["25.00"]

    result = api.get(reverse("api:case-detail", args=[case.pk])).json()["result"]
    assert result["status"] == "amended" and result["version"] == 2
    assert result["amendment_reason"] == "Cell 2 is a monocyte."
    assert result["blast_fraction"] == pytest.approx(0.25)


def test_it_keeps_the_call_choices_the_engine_s_vocabulary():
    from alllab.analysis.summaries import CALLS
    from alllab.cases.models import Case

    assert tuple(Case.Call.values) == CALLS
