"""The plain data a report is built from, the codes it uses, and the default wording of its conclusion.

FHIR and HL7 builders read only these dataclasses, so both messages carry the same stored numbers and can be tested
without a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

ReportStatus = Literal["preliminary", "final", "amended"]
REPORT_STATUSES: tuple[str, ...] = ("preliminary", "final", "amended")
CALLS: tuple[str, ...] = ("suspicious", "negative", "insufficient")


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
}


@dataclass(frozen=True)
class SlideSummary:
    """The stored slide-level numbers (see ``inference.summary``); fractions are in [0, 1]."""

    n_cells: int
    n_blast: int
    blast_fraction: float
    blast_fraction_ci95: tuple[float, float]
    max_p_blast: float
    call: str

    def __post_init__(self) -> None:
        if self.call not in CALLS:
            raise ValueError(f"unknown call {self.call!r}; expected one of {CALLS}")
        if not 0.0 <= self.blast_fraction <= 1.0:
            raise ValueError(f"blast_fraction must be in [0, 1], got {self.blast_fraction}")


@dataclass(frozen=True)
class SlideResult:
    """One slide of a case: its latest analysis status and, once done, its summary."""

    slide_id: int
    filename: str
    status: str  # queued | running | done | failed
    model_name: str = ""
    model_version: str = ""
    summary: SlideSummary | None = None
    error: str = ""
    analysed_at: datetime | None = None

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
    case_summary: SlideSummary | None = None  # over every cell of every done slide, as stored on the case

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
    def models(self) -> tuple[tuple[str, str], ...]:
        """Distinct (model name, version) pairs that produced the reported numbers, in slide order."""
        seen: dict[tuple[str, str], None] = {}
        for s in self.reportable_slides:
            seen.setdefault((s.model_name, s.model_version), None)
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
            parts.append(
                f"Slide {s.filename or s.slide_id}: {s.summary.call}, {s.summary.n_blast} of {s.summary.n_cells} "
                f"white cells classed as blasts ({percent(s.summary.blast_fraction)}%, "
                f"95% CI {percent(lo)}-{percent(hi)}%)."
            )
        elif s.status == "failed":
            parts.append(f"Slide {s.filename or s.slide_id}: analysis failed ({s.error or 'no reason recorded'}).")
        else:
            parts.append(f"Slide {s.filename or s.slide_id}: analysis pending.")
    parts.append("Automated screening result; not a diagnosis until reviewed by a pathologist.")
    return " ".join(parts)
