"""The plain data a report is built from, the codes it uses, and the default wording of its conclusion.

FHIR and HL7 builders read only these dataclasses and the engine's ``Summary`` (through ``alllab.analysis.summaries``),
so both messages carry the same stored numbers and can be tested without a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from alllab.analysis.summaries import Summary, call_explanation, call_label, fraction_withheld
from alllab.review.result import SignedResult

ReportStatus = Literal["preliminary", "final", "amended"]
REPORT_STATUSES: tuple[str, ...] = ("preliminary", "final", "amended")


@dataclass(frozen=True)
class Code:
    """One coded concept, with the system it comes from in FHIR (a URI) and in HL7 v2 (table 0396)."""

    code: str
    display: str
    fhir_system: str
    hl7_system: str


LOINC_FHIR = "http://loinc.org"
LOINC_HL7 = "LN"
# No LOINC code names an automated blast screen, its call or its model confidence, so those use a local code system;
# HL7 v2 reserves "99zzz" names for local coding systems.
LOCAL_FHIR = "urn:alllab:codesystem:screening"
LOCAL_HL7 = "99ALL"
UCUM = "http://unitsofmeasure.org"

CODE_REPORT = Code("ALL-SCREEN", "Automated blood smear screen for leukaemic blasts", LOCAL_FHIR, LOCAL_HL7)
CODE_CELLS_COUNTED = Code("11282-1", "Cells Counted Total [#] in Blood", LOINC_FHIR, LOINC_HL7)
CODE_BLAST_FRACTION = Code("26446-5", "Blasts/100 leukocytes in Blood", LOINC_FHIR, LOINC_HL7)
CODE_CALL = Code("BLAST-CALL", "Automated blast screening call", LOCAL_FHIR, LOCAL_HL7)
CODE_MAX_P_BLAST = Code("MAX-P-BLAST", "Highest calibrated blast probability of any cell", LOCAL_FHIR, LOCAL_HL7)
CODE_CI_LOW = Code("CI95-LOW", "Lower bound of the 95% Wilson interval", LOCAL_FHIR, LOCAL_HL7)
CODE_CI_HIGH = Code("CI95-HIGH", "Upper bound of the 95% Wilson interval", LOCAL_FHIR, LOCAL_HL7)
CALL_CODES = {
    "suspicious": Code("suspicious", "Suspicious for blasts: review the smear", LOCAL_FHIR, LOCAL_HL7),
    "negative": Code("negative", "No blasts found", LOCAL_FHIR, LOCAL_HL7),
    "insufficient": Code("insufficient", "Too few readable cells for a call", LOCAL_FHIR, LOCAL_HL7),
    "unvalidated": Code(
        "unvalidated", "Unvalidated: images unlike those the model was validated on", LOCAL_FHIR, LOCAL_HL7
    ),
}

# How a value was obtained (FHIR Observation.method, HL7 OBX-17): the pathologist's review is the result once signed;
# the model's numbers travel beside it as the automated pre-classification, never in its place.
METHOD_REVIEW = Code(
    "MANUAL-REVIEW", "Manual review of every located cell by a pathologist (signed result)", LOCAL_FHIR, LOCAL_HL7
)
METHOD_AI = Code(
    "AI-PRECLASS", "Automated image analysis: pre-classification by the model, not reviewed", LOCAL_FHIR, LOCAL_HL7
)

# The reviewed differential: each white class its own LOINC code (per 100 leukocytes, in %); the two classes outside
# the denominator have no LOINC code and use the local system, as counts.
DIFFERENTIAL_CODES = {
    "blast": CODE_BLAST_FRACTION,
    "lymphocyte": Code("26478-8", "Lymphocytes/100 leukocytes in Blood", LOINC_FHIR, LOINC_HL7),
    "neutrophil": Code("26511-6", "Neutrophils/100 leukocytes in Blood", LOINC_FHIR, LOINC_HL7),
    "monocyte": Code("26485-3", "Monocytes/100 leukocytes in Blood", LOINC_FHIR, LOINC_HL7),
    "eosinophil": Code("26450-7", "Eosinophils/100 leukocytes in Blood", LOINC_FHIR, LOINC_HL7),
    "basophil": Code("30180-4", "Basophils/100 leukocytes in Blood", LOINC_FHIR, LOINC_HL7),
    "other_wbc": Code("26471-3", "Other cells/100 leukocytes in Blood", LOINC_FHIR, LOINC_HL7),
    "artefact": Code("SMUDGE-ARTEFACT", "Smudge cells or artefacts counted (not leukocytes)", LOCAL_FHIR, LOCAL_HL7),
    "unsure": Code("UNSURE-CELLS", "Cells the reviewer could not classify (not counted)", LOCAL_FHIR, LOCAL_HL7),
}
CODE_CLASS_COUNT = Code("CELL-COUNT", "Cells of this class counted", LOCAL_FHIR, LOCAL_HL7)
CODE_INTERPRETATION = Code("REVIEW-INTERPRETATION", "Pathologist's interpretation of the smear", LOCAL_FHIR, LOCAL_HL7)
INTERPRETATION_FHIR = "urn:alllab:codesystem:interpretation"
# Why a blast fraction is sent without a number (FHIR dataAbsentReason, HL7 an NTE beside OBX-11 "X").
CODE_TOO_FEW_CELLS = Code("too-few-cells", "Too few readable white cells for a blast fraction", LOCAL_FHIR, LOCAL_HL7)


def call_text(call: str) -> str:
    """``"Unvalidated: These images are unlike ..."``: the call's label and what it means, for free text."""
    return f"{call_label(call)}: {call_explanation(call)}"


@dataclass(frozen=True)
class ModelRef:
    """Which model made a slide's numbers: the engine's name and version, the sha256 of its weights, and the lab's
    registry row (``lab_model_id`` None for the unregistered shipped model)."""

    name: str
    version: str
    sha256: str = ""
    lab_model_id: int | None = None
    lab_model_kind: str = ""  # "shipped" | "adapted" (a version adapted to this lab from its reviewed cells)

    @property
    def description(self) -> str:
        who = "unregistered shipped model"
        if self.lab_model_id is not None:
            kind = "adapted to this lab" if self.lab_model_kind == "adapted" else "shipped"
            who = f"lab model #{self.lab_model_id}, {kind}"
        sha = f", weights sha256 {self.sha256}" if self.sha256 else ""
        return f"{self.name or 'unknown model'} {self.version or 'unknown version'} ({who}{sha})"


@dataclass(frozen=True)
class SlideResult:
    """One slide of a case: its latest analysis status and, once done, its summary."""

    slide_id: int
    filename: str
    status: str  # queued | running | done | failed
    model_name: str = ""
    model_version: str = ""
    summary: Summary | None = None
    error: str = ""
    analysed_at: datetime | None = None
    model_sha256: str = ""
    lab_model_id: int | None = None
    lab_model_kind: str = ""

    @property
    def model(self) -> ModelRef:
        return ModelRef(self.model_name, self.model_version, self.model_sha256, self.lab_model_id, self.lab_model_kind)

    @property
    def reportable(self) -> bool:
        """True when the slide has a finished analysis with numbers to report."""
        return self.status == "done" and self.summary is not None


@dataclass(frozen=True)
class ReportData:
    """Everything a FHIR bundle or an HL7 ORU message says about one case."""

    lab_slug: str
    lab_name: str
    case_id: int
    accession_number: str
    patient_id: str
    specimen_collected_at: date | datetime | None  # a date alone when only the day is known
    status: ReportStatus
    issued_at: datetime
    slides: tuple[SlideResult, ...] = field(default_factory=tuple)
    conclusion: str = ""
    case_summary: Summary | None = None  # over every cell of every done slide, as stored on the case
    signed: SignedResult | None = None  # the latest signed version's reviewed result; None before sign-off

    def __post_init__(self) -> None:
        if self.status not in REPORT_STATUSES:
            raise ValueError(f"unknown report status {self.status!r}; expected one of {REPORT_STATUSES}")
        if not self.accession_number:
            raise ValueError("accession_number is required")
        if self.issued_at.tzinfo is None:
            raise ValueError("issued_at must be timezone-aware")

    @property
    def reportable_slides(self) -> tuple[SlideResult, ...]:
        return tuple(s for s in self.slides if s.reportable)

    @property
    def models(self) -> tuple[ModelRef, ...]:
        """Distinct models that produced the reported numbers, in slide order."""
        seen: dict[ModelRef, None] = {}
        for s in self.reportable_slides:
            seen.setdefault(s.model, None)
        return tuple(seen)

    @property
    def conclusion_text(self) -> str:
        """The pathologist's conclusion when there is one, else a plain statement of the automated results."""
        return self.conclusion.strip() or default_conclusion(self.slides)


def percent(fraction: float) -> float:
    """A fraction in [0, 1] as a percentage rounded to 0.01, the precision every report uses."""
    return round(fraction * 100.0, 2)


def default_conclusion(slides: tuple[SlideResult, ...]) -> str:
    """Describe the automated results in one sentence per slide; says so when nothing has been analysed yet."""
    if not slides:
        return "No slides received."
    parts = []
    for s in slides:
        if s.reportable:
            assert s.summary is not None
            lo, hi = s.summary.blast_fraction_ci95
            if fraction_withheld(n_cells=s.summary.n_cells, call=s.summary.call, flags=s.summary.flags):
                numbers = f"{s.summary.n_cells} white cells found, too few readable cells for a blast fraction."
            else:
                numbers = (
                    f"{s.summary.n_blast} of {s.summary.n_cells} white cells classed as blasts "
                    f"({percent(s.summary.blast_fraction)}%, 95% CI {percent(lo)}-{percent(hi)}%)."
                )
            parts.append(f"Slide {s.filename or s.slide_id}: {s.summary.call}, {numbers}")
            if s.summary.call == "unvalidated":
                parts.append(call_explanation("unvalidated"))
        elif s.status == "failed":
            parts.append(f"Slide {s.filename or s.slide_id}: analysis failed ({s.error or 'no reason recorded'}).")
        else:
            parts.append(f"Slide {s.filename or s.slide_id}: analysis pending.")
    parts.append("Automated screening result; not a diagnosis until reviewed by a pathologist.")
    return " ".join(parts)
