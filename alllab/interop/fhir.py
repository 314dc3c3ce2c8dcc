"""FHIR R4 (validated with ``fhir.resources.R4B``) Bundle for one case: DiagnosticReport, Observations, Device.

The bundle is a ``collection``: a DiagnosticReport whose ``result`` points at Observations. Once signed, the signed,
reviewed result comes first (``method`` ``MANUAL-REVIEW``: white cells counted, each class of the differential, the
interpretation); then the automated pre-classification (``method`` ``AI-PRECLASS``, ``device`` the model: cells
counted, blast fraction in %, the call, the highest blast probability) for the whole case and each slide. A Patient
holds only the pseudonymous identifier, the lab is an Organization, and each model (version, weights sha256, lab
model) is a Device. Ids are UUIDv5 of the case and resource, so fetching the same case twice gives the same ids.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from alllab.analysis.summaries import Summary
from alllab.review.result import SignedResult

from .report import (
    CALL_CODES,
    CODE_BLAST_FRACTION,
    CODE_CALL,
    CODE_CELLS_COUNTED,
    CODE_CI_HIGH,
    CODE_CI_LOW,
    CODE_CLASS_COUNT,
    CODE_INTERPRETATION,
    CODE_MAX_P_BLAST,
    CODE_REPORT,
    CODE_TOO_FEW_CELLS,
    DIFFERENTIAL_CODES,
    INTERPRETATION_FHIR,
    METHOD_AI,
    METHOD_REVIEW,
    UCUM,
    Code,
    ModelRef,
    ReportData,
    SlideResult,
    call_text,
    fraction_withheld,
    percent,
)

_NAMESPACE = uuid.UUID("6f1c2a52-4e0c-5b8e-9a57-2d4d0c6e8a11")  # fixed, so ids are stable across processes
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
MODEL_SHA256 = "urn:alllab:model-sha256"  # the sha256 of the weights, as the engine hashes them (state_sha256)


def _urn(report: ReportData, *parts: object) -> str:
    name = "/".join(str(p) for p in (report.lab_slug, report.case_id, *parts))
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, name)}"


def _concept(code: Code, text: str = "") -> dict[str, Any]:
    return {
        "coding": [{"system": code.fhir_system, "code": code.code, "display": code.display}],
        "text": text or code.display,
    }


def _iso(value: date | datetime) -> str:
    # FHIR dateTime takes a bare date when only the day is known.
    return value.isoformat()


def _quantity(value: float, unit: str) -> dict[str, Any]:
    units = {"%": ("%", "%"), "cells": ("cells", "{cells}"), "1": ("1", "1")}
    name, ucum = units[unit]
    return {"value": value, "unit": name, "system": UCUM, "code": ucum}


def _absent(n_cells: int) -> dict[str, Any]:
    # No number from too few cells: a coded reason instead (the standard code, and ours saying why).
    return {
        "dataAbsentReason": {
            "coding": [
                {"system": DATA_ABSENT, "code": "unknown", "display": "Unknown"},
                {
                    "system": CODE_TOO_FEW_CELLS.fhir_system,
                    "code": CODE_TOO_FEW_CELLS.code,
                    "display": CODE_TOO_FEW_CELLS.display,
                },
            ],
            "text": f"{CODE_TOO_FEW_CELLS.display} ({n_cells} counted)",
        }
    }


def _flag(code: str, display: str, text: str = "") -> list[dict[str, Any]]:
    item: dict[str, Any] = {"coding": [{"system": INTERPRETATION, "code": code, "display": display}]}
    if text:
        item["text"] = text
    return [item]


# The AI's call as an Observation.interpretation: suspicious is abnormal; unvalidated is indeterminate (these images
# are unlike the model's validation data, so neither normal nor abnormal can be said); negative and insufficient
# carry none (insufficient says so in its value).
CALL_INTERPRETATION = {"suspicious": ("A", "Abnormal"), "unvalidated": ("IND", "Indeterminate")}


@dataclass(frozen=True)
class _Subject:
    """What a group of Observations is about: one slide, or the whole case (``slide`` None)."""

    slide: SlideResult | None
    device_urn: str | None
    patient_urn: str | None
    model: ModelRef | None = None


def _method(code: Code, text: str) -> dict[str, Any]:
    return {"method": _concept(code, text)}


def _observation(
    report: ReportData, urn: str, about: _Subject, code: Code, value: dict[str, Any], note: str
) -> tuple[str, dict[str, Any]]:
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
    if about.slide and about.slide.analysed_at:
        obs["issued"] = _iso(about.slide.analysed_at)
    return urn, obs


def _ai_observations(report: ReportData, s: Summary, about: _Subject) -> list[tuple[str, dict[str, Any]]]:
    """The model's numbers for a slide or the whole case, each marked as the automated pre-classification."""
    slide = about.slide
    n_done = len(report.reportable_slides)
    note = (
        f"Slide {slide.filename or slide.slide_id} (ALL-Lab slide id {slide.slide_id})"
        if slide
        else f"Whole case: every cell of the {n_done} analysed slide{'s' if n_done != 1 else ''}"
    )
    model = f" by {about.model.description}" if about.model else " (several model versions)"
    method = _method(METHOD_AI, f"Automated pre-classification by image analysis{model}; not the reviewed result.")
    lo, hi = s.blast_fraction_ci95
    call_value: dict[str, Any] = {"valueCodeableConcept": _concept(CALL_CODES[s.call], call_text(s.call)), **method}
    if s.call in CALL_INTERPRETATION:
        call_value["interpretation"] = _flag(*CALL_INTERPRETATION[s.call], text=call_text(s.call))
    cells = {"valueQuantity": _quantity(s.n_cells, "cells"), **method}
    if fraction_withheld(n_cells=s.n_cells, call=s.call, flags=s.flags):
        fraction = {**_absent(s.n_cells), **method}
    else:
        fraction = {
            "valueQuantity": _quantity(percent(s.blast_fraction), "%"),
            "component": [
                {"code": _concept(code), "valueQuantity": _quantity(percent(b), "%")}
                for code, b in ((CODE_CI_LOW, lo), (CODE_CI_HIGH, hi))
            ],
            **method,
        }
    max_p = {"valueQuantity": _quantity(round(s.max_p_blast, 4), "1"), **method}

    def urn(code: Code) -> str:
        return _urn(report, "slide", slide.slide_id, code.code) if slide else _urn(report, "case-summary", code.code)

    return [
        _observation(report, urn(code), about, code, value, note)
        for code, value in (
            (CODE_CELLS_COUNTED, cells),
            (CODE_BLAST_FRACTION, fraction),
            (CODE_CALL, call_value),
            (CODE_MAX_P_BLAST, max_p),
        )
    ]


def _reviewed_observations(report: ReportData, r: SignedResult, about: _Subject) -> list[tuple[str, dict[str, Any]]]:
    """The signed, reviewed result: white cells counted, each class of the differential, the interpretation.

    Ids depend on the code only, so an amendment replaces the same Observations (status ``amended``).
    """
    note = (
        f"Signed result, report version {r.version} ({r.status}), signed by {r.signed_by}"
        f"{' (' + r.signed_by_role + ')' if r.signed_by_role else ''} at {_iso(r.signed_at)}"
    )
    if r.below_minimum:
        note += f"; fewer than {r.min_cells} white cells reviewed"
    method = _method(METHOD_REVIEW, "Manual review by a pathologist of every cell ALL-Lab located: the signed result.")
    out = [(CODE_CELLS_COUNTED, {"valueQuantity": _quantity(r.n_white_cells, "cells"), **method})]
    withheld = fraction_withheld(n_cells=r.n_white_cells)
    for row in r.differential:
        code = DIFFERENTIAL_CODES[row.label]
        count = {"code": _concept(CODE_CLASS_COUNT), "valueQuantity": _quantity(row.count, "cells")}
        if not row.white:
            out.append((code, {"valueQuantity": _quantity(row.count, "cells"), **method}))
        elif withheld or row.percent is None:
            out.append((code, {**_absent(r.n_white_cells), "component": [count], **method}))
        else:
            components = [count]
            if row.label == "blast":
                lo, hi = r.blast_fraction_ci95
                components += [
                    {"code": _concept(c), "valueQuantity": _quantity(percent(b), "%")}
                    for c, b in ((CODE_CI_LOW, lo), (CODE_CI_HIGH, hi))
                ]
            out.append((code, {"valueQuantity": _quantity(row.percent, "%"), "component": components, **method}))
    interpretation: dict[str, Any] = {
        "valueCodeableConcept": _interpretation_concept(r),
        **method,
    }
    if r.interpretation_code in REVIEW_FLAGS:
        interpretation["interpretation"] = _flag(*REVIEW_FLAGS[r.interpretation_code])
    out.append((CODE_INTERPRETATION, interpretation))
    # Made by a person of the lab, at the signature: performer the lab, issued the time of signing.
    signed = {"performer": [{"reference": _urn(report, "organization")}], "issued": _iso(r.signed_at)}
    return [
        _observation(report, _urn(report, "reviewed", code.code), about, code, {**value, **signed}, note)
        for code, value in out
    ]


# The pathologist's interpretation as a flag: blasts present is abnormal, no blasts seen normal, the rest none.
REVIEW_FLAGS = {"blasts_present": ("A", "Abnormal"), "no_blasts": ("N", "Normal")}


def _interpretation_concept(r: SignedResult) -> dict[str, Any]:
    text = r.interpretation_display + (f": {r.interpretation_text}" if r.interpretation_text else "")
    return {
        "coding": [{"system": INTERPRETATION_FHIR, "code": r.interpretation_code, "display": r.interpretation_display}],
        "text": text,
    }


def _device(report: ReportData, model: ModelRef) -> tuple[str, dict[str, Any]]:
    urn = _urn(report, "device", model.name, model.version, *((model.sha256,) if model.sha256 else ()))
    identifiers = []
    if model.sha256:
        identifiers.append({"system": MODEL_SHA256, "value": model.sha256})
    if model.lab_model_id is not None:
        identifiers.append({"system": f"urn:alllab:{report.lab_slug}:lab-model", "value": str(model.lab_model_id)})
    device: dict[str, Any] = {
        "resourceType": "Device",
        "status": "active",
        "deviceName": [
            {"name": model.name or "unknown model", "type": "model-name"},
            {"name": model.description, "type": "user-friendly-name"},
        ],
        "type": {"text": "Automated blood smear image-analysis software (ALL-Lab)"},
        "version": [{"value": model.version or "unknown"}],
        "owner": {"reference": _urn(report, "organization")},
        "note": [{"text": f"Model that made the automated pre-classification: {model.description}."}],
    }
    if identifiers:
        device["identifier"] = identifiers
    return urn, device


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
    devices = {model: _device(report, model) for model in report.models}
    entries.extend(devices.values())
    observations: list[tuple[str, dict[str, Any]]] = []
    if report.signed is not None:
        # Once signed, the reviewed values are the result and come first; the AI's follow as its pre-classification.
        observations.extend(_reviewed_observations(report, report.signed, _Subject(None, None, patient_urn)))
    if report.case_summary is not None:
        # One model for the whole case: point at it; several (a re-analysis with a newer model): no single device.
        only = next(iter(devices)) if len(devices) == 1 else None
        about = _Subject(None, devices[only][0] if only else None, patient_urn, only)
        observations.extend(_ai_observations(report, report.case_summary, about))
    for slide in report.reportable_slides:
        device_urn = devices[slide.model][0]
        assert slide.summary is not None
        about = _Subject(slide, device_urn, patient_urn, slide.model)
        observations.extend(_ai_observations(report, slide.summary, about))
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
    if report.signed is not None:
        diagnostic_report["conclusionCode"] = [_interpretation_concept(report.signed)]
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
            # Each resource's id is its fullUrl's UUID, so a receiver storing them keeps one row per result.
            "entry": [{"fullUrl": urn, "resource": {"id": urn.rsplit(":", 1)[1], **r}} for urn, r in entries],
        }
    )


def fhir_bundle_json(*, report: ReportData) -> str:
    """The validated bundle as FHIR JSON text."""
    return fhir_bundle_build(report=report).model_dump_json(exclude_none=True)
