"""FHIR R4 (validated with ``fhir.resources.R4B``) Bundle for one case: DiagnosticReport, Observations, Device.

The bundle is a ``collection``: a DiagnosticReport whose ``result`` points at Observations (white cells counted,
blast fraction in %, the screening call, the highest blast probability) for the whole case and then for each slide;
a Patient holding only the pseudonymous identifier, the lab as an Organization, and one Device per model version
that produced numbers. Entry ids are UUIDv5 of the case and resource, so fetching the same case twice gives the
same references.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
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
    SlideSummary,
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


@dataclass(frozen=True)
class _Subject:
    """What a group of Observations is about: one slide, or the whole case (``slide`` None)."""

    slide: SlideResult | None
    device_urn: str | None
    patient_urn: str | None


def _observation(report: ReportData, about: _Subject, code: Code, value: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    slide = about.slide
    urn = _urn(report, "slide", slide.slide_id, code.code) if slide else _urn(report, "case-summary", code.code)
    n_done = len(report.reportable_slides)
    note = (
        f"Slide {slide.filename or slide.slide_id} (ALL-Lab slide id {slide.slide_id})"
        if slide
        else f"Whole case: every cell of the {n_done} analysed slide{'s' if n_done != 1 else ''}"
    )
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "identifier": [{"system": f"urn:alllab:{report.lab_slug}:observation", "value": urn.rsplit(":", 1)[1]}],
        "status": report.status,
        "category": [{"coding": [{"system": OBS_CATEGORY, "code": "laboratory", "display": "Laboratory"}]}],
        "code": _concept(code),
        "note": [{"text": note}],
        **value,
    }
    if about.device_urn:
        obs["device"] = {"reference": about.device_urn}
    if about.patient_urn:
        obs["subject"] = {"reference": about.patient_urn}
    if report.specimen_collected_at:
        obs["effectiveDateTime"] = _iso(report.specimen_collected_at)
    if slide and slide.analysed_at:
        obs["issued"] = _iso(slide.analysed_at)
    return urn, obs


def _summary_observations(report: ReportData, s: SlideSummary, about: _Subject) -> list[tuple[str, dict[str, Any]]]:
    lo, hi = s.blast_fraction_ci95
    call_value: dict[str, Any] = {"valueCodeableConcept": _concept(CALL_CODES[s.call])}
    if s.call == "suspicious":
        call_value["interpretation"] = [{"coding": [{"system": INTERPRETATION, "code": "A", "display": "Abnormal"}]}]
    cells = {"valueQuantity": {"value": s.n_cells, "unit": "cells", "system": UCUM, "code": "{cells}"}}
    fraction = {
        "valueQuantity": {"value": percent(s.blast_fraction), "unit": "%", "system": UCUM, "code": "%"},
        "component": [
            {"code": _concept(code), "valueQuantity": {"value": percent(b), "unit": "%", "system": UCUM, "code": "%"}}
            for code, b in ((CODE_CI_LOW, lo), (CODE_CI_HIGH, hi))
        ],
    }
    max_p = {"valueQuantity": {"value": round(s.max_p_blast, 4), "unit": "1", "system": UCUM, "code": "1"}}
    return [
        _observation(report, about, CODE_CELLS_COUNTED, cells),
        _observation(report, about, CODE_BLAST_FRACTION, fraction),
        _observation(report, about, CODE_CALL, call_value),
        _observation(report, about, CODE_MAX_P_BLAST, max_p),
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
    if report.case_summary is not None:
        # One model for the whole case: point at it; several (a re-analysis with a newer model): no single device.
        only_device = next(iter(devices.values()))[0] if len(devices) == 1 else None
        observations.extend(
            _summary_observations(report, report.case_summary, _Subject(None, only_device, patient_urn))
        )
    for slide in report.reportable_slides:
        device_urn = devices[(slide.model_name, slide.model_version)][0]
        assert slide.summary is not None
        observations.extend(_summary_observations(report, slide.summary, _Subject(slide, device_urn, patient_urn)))
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
