"""FHIR R4 (validated with ``fhir.resources.R4B``) Bundle for one case: DiagnosticReport, Observations, Device.

The bundle is a ``collection``: a DiagnosticReport whose ``result`` points at per-slide Observations (white cells
counted, blast fraction in %, the screening call, the highest blast probability), a Patient holding only the
pseudonymous identifier, the lab as an Organization, and one Device per model version that produced numbers. Entry
ids are UUIDv5 of the case and resource, so fetching the same case twice gives the same references.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from .report import (
    CALL_CODES,
    CODE_BLAST_FRACTION,
    CODE_CALL,
    CODE_CELLS_COUNTED,
    CODE_CI_HIGH,
    CODE_CI_LOW,
    CODE_MAX_P_BLAST,
    CODE_REPORT,
    UCUM,
    Code,
    ReportData,
    SlideResult,
    percent,
)

_NAMESPACE = uuid.UUID("6f1c2a52-4e0c-5b8e-9a57-2d4d0c6e8a11")  # fixed, so ids are stable across processes
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


def _urn(report: ReportData, *parts: object) -> str:
    name = "/".join(str(p) for p in (report.lab_slug, report.case_id, *parts))
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, name)}"


def _concept(code: Code) -> dict[str, Any]:
    return {"coding": [{"system": code.fhir_system, "code": code.code, "display": code.display}], "text": code.display}


def _iso(value: date | datetime) -> str:
    # FHIR dateTime takes a bare date when only the day is known.
    return value.isoformat()


def _observation(
    report: ReportData, slide: SlideResult, code: Code, value: dict[str, Any], device_urn: str, patient_urn: str | None
) -> tuple[str, dict[str, Any]]:
    urn = _urn(report, "slide", slide.slide_id, code.code)
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "identifier": [{"system": f"urn:alllab:{report.lab_slug}:observation", "value": urn.rsplit(":", 1)[1]}],
        "status": report.status,
        "category": [{"coding": [{"system": OBS_CATEGORY, "code": "laboratory", "display": "Laboratory"}]}],
        "code": _concept(code),
        "device": {"reference": device_urn},
        "note": [{"text": f"Slide {slide.filename or slide.slide_id} (ALL-Lab slide id {slide.slide_id})"}],
        **value,
    }
    if patient_urn:
        obs["subject"] = {"reference": patient_urn}
    if report.specimen_collected_at:
        obs["effectiveDateTime"] = _iso(report.specimen_collected_at)
    if slide.analysed_at:
        obs["issued"] = _iso(slide.analysed_at)
    return urn, obs


def _slide_observations(
    report: ReportData, slide: SlideResult, device_urn: str, patient_urn: str | None
) -> list[tuple[str, dict[str, Any]]]:
    s = slide.summary
    assert s is not None
    lo, hi = s.blast_fraction_ci95
    call_value: dict[str, Any] = {"valueCodeableConcept": _concept(CALL_CODES[s.call])}
    if s.call == "suspicious":
        call_value["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": "A", "display": "Abnormal"}]}]
    return [
        _observation(
            report,
            slide,
            CODE_CELLS_COUNTED,
            {"valueQuantity": {"value": s.n_cells, "unit": "cells", "system": UCUM, "code": "{cells}"}},
            device_urn,
            patient_urn,
        ),
        _observation(
            report,
            slide,
            CODE_BLAST_FRACTION,
            {
                "valueQuantity": {"value": percent(s.blast_fraction), "unit": "%", "system": UCUM, "code": "%"},
                "component": [
                    {
                        "code": _concept(code),
                        "valueQuantity": {"value": percent(bound), "unit": "%", "system": UCUM, "code": "%"},
                    }
                    for code, bound in ((CODE_CI_LOW, lo), (CODE_CI_HIGH, hi))
                ],
            },
            device_urn,
            patient_urn,
        ),
        _observation(report, slide, CODE_CALL, call_value, device_urn, patient_urn),
        _observation(
            report,
            slide,
            CODE_MAX_P_BLAST,
            {"valueQuantity": {"value": round(s.max_p_blast, 4), "unit": "1", "system": UCUM, "code": "1"}},
            device_urn,
            patient_urn,
        ),
    ]


def _device(report: ReportData, name: str, version: str) -> tuple[str, dict[str, Any]]:
    urn = _urn(report, "device", name, version)
    return urn, {
        "resourceType": "Device",
        "status": "active",
        "deviceName": [{"name": name or "unknown model", "type": "model-name"}],
        "type": {"text": "Automated blood smear image-analysis software (ALL-Lab)"},
        "version": [{"value": version or "unknown"}],
        "owner": {"reference": _urn(report, "organization")},
    }


def fhir_bundle_build(*, report: ReportData) -> Bundle:
    """Build and validate the case's FHIR Bundle.

    Args:
        report: The case's stored results, as plain data.

    Returns:
        A validated ``fhir.resources.R4B`` Bundle (``.model_dump_json()`` or ``fhir_bundle_json`` to send it).

    Raises:
        pydantic.ValidationError: If a resource does not conform to FHIR R4 (a bug here, not bad input).
    """
    entries: list[tuple[str, dict[str, Any]]] = []
    org_urn = _urn(report, "organization")
    entries.append(
        (
            org_urn,
            {
                "resourceType": "Organization",
                "identifier": [{"system": "urn:alllab:lab", "value": report.lab_slug}],
                "name": report.lab_name or report.lab_slug,
            },
        )
    )
    patient_urn = None
    if report.patient_id:
        patient_urn = _urn(report, "patient", report.patient_id)
        entries.append(
            (
                patient_urn,
                {
                    "resourceType": "Patient",
                    # Pseudonymous: the lab's identifier only, no name or birth date ever leaves ALL-Lab.
                    "identifier": [{"system": f"urn:alllab:{report.lab_slug}:patient", "value": report.patient_id}],
                    "managingOrganization": {"reference": org_urn},
                },
            )
        )
    devices = {key: _device(report, *key) for key in report.models}
    entries.extend(devices.values())
    observations: list[tuple[str, dict[str, Any]]] = []
    for slide in report.reportable_slides:
        device_urn = devices[(slide.model_name, slide.model_version)][0]
        observations.extend(_slide_observations(report, slide, device_urn, patient_urn))
    diagnostic_report: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "identifier": [{"system": f"urn:alllab:{report.lab_slug}:accession", "value": report.accession_number}],
        "status": report.status,
        "category": [
            {"coding": [{"system": V2_0074, "code": "LAB", "display": "Laboratory"}]},
            {"coding": [{"system": V2_0074, "code": "HM", "display": "Hematology"}]},
        ],
        "code": _concept(CODE_REPORT),
        "issued": _iso(report.issued_at),
        "performer": [{"reference": org_urn}],
        "result": [{"reference": urn} for urn, _ in observations],
        "conclusion": report.conclusion_text,
    }
    if patient_urn:
        diagnostic_report["subject"] = {"reference": patient_urn}
    if report.specimen_collected_at:
        diagnostic_report["effectiveDateTime"] = _iso(report.specimen_collected_at)
    entries.insert(0, (_urn(report, "report"), diagnostic_report))
    entries.extend(observations)
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "id": _urn(report, "bundle").rsplit(":", 1)[1],
            "identifier": {"system": f"urn:alllab:{report.lab_slug}:case", "value": str(report.case_id)},
            "type": "collection",
            "timestamp": _iso(report.issued_at),
            "entry": [{"fullUrl": urn, "resource": resource} for urn, resource in entries],
        }
    )


def fhir_bundle_json(*, report: ReportData) -> str:
    """The validated bundle as FHIR JSON text."""
    return fhir_bundle_build(report=report).model_dump_json(exclude_none=True)
