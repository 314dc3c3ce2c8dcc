"""HL7 v2.5.1 ORU^R01 result message for one case, built and validated with ``hl7apy``.

Layout: MSH, PID, ORC, OBR (the screen as one order), NTE (the conclusion). Once signed, the reviewed result (OBX-4
``R``, OBX-17 ``MANUAL-REVIEW``): white cells counted, each class of the differential in its own OBX (LOINC per 100
leukocytes; smudge/artefact and unsure as local counts), the interpretation. Then the automated pre-classification
(OBX-17 ``AI-PRECLASS``, OBX-18 the model with its sha256) for the whole case (OBX-4 0) and each reported slide (its
position): cells counted, blast fraction (%) with its 95% interval in an NTE (no value, OBX-11 ``X``, from too few
cells), the call with its explanation in an NTE, and the highest blast probability. A slide without results (failed
or pending) gets an NTE under the OBR rather than being silently dropped. See docs/api.md.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Group, Message

from alllab.analysis.summaries import Summary
from alllab.review.result import SignedResult

from .report import (
    CALL_CODES,
    CODE_BLAST_FRACTION,
    CODE_CALL,
    CODE_CELLS_COUNTED,
    CODE_INTERPRETATION,
    CODE_MAX_P_BLAST,
    CODE_REPORT,
    CODE_TOO_FEW_CELLS,
    DIFFERENTIAL_CODES,
    LOCAL_HL7,
    METHOD_AI,
    METHOD_REVIEW,
    Code,
    ModelRef,
    ReportData,
    call_text,
    fraction_withheld,
    percent,
)

VERSION = "2.5.1"
# OBR-25 / OBX-11 result status (HL7 table 0085 / 0123): preliminary, final, corrected.
RESULT_STATUS = {"preliminary": "P", "final": "F", "amended": "C"}
SENDING_APPLICATION = "ALL-Lab"
REVIEWED_SUB_ID = "R"  # OBX-4 of the signed, reviewed result; the AI's whole case is 0 and its slides 1..n
# OBX-8 (table 0078) of the AI's call. Unvalidated is "A": 2.5.1 has no "indeterminate" flag, and a flag a receiver
# holds for a person is the point (review every cell); it is never "N". Insufficient carries none.
CALL_FLAGS = {"suspicious": "A", "unvalidated": "A", "negative": "N"}
# OBX-8 of the pathologist's interpretation.
REVIEW_FLAGS = {"blasts_present": "A", "no_blasts": "N"}


def hl7_escape(text: str) -> str:
    """Escape HL7 delimiters in free text and fold line breaks, so a filename or note cannot break a segment."""
    text = text.replace("\\", "\\E\\")
    for char, seq in (("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\")):
        text = text.replace(char, seq)
    return " ".join(text.split())


def hl7_unescape(text: str) -> str:
    """Inverse of ``hl7_escape`` for the four delimiters and the escape character itself."""
    for char, seq in (("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\"), ("\\", "\\E\\")):
        text = text.replace(seq, char)
    return text


def _ts(value: date | datetime) -> str:
    if not isinstance(value, datetime):
        return value.strftime("%Y%m%d")  # day precision when only the day is known
    return value.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")


def _ce(code: Code) -> str:
    return f"{hl7_escape(code.code)}^{hl7_escape(code.display)}^{code.hl7_system}"


def _add_nte(parent: Group | Message, set_id: int, text: str) -> None:
    nte = parent.add_segment("NTE")
    nte.nte_1 = str(set_id)
    nte.nte_2 = "L"  # comment source: ancillary (filler) department
    nte.nte_3 = hl7_escape(text)[:65536]


def _add_obx(
    order: Group,
    *,
    set_id: int,
    sub_id: str,
    value_type: str,
    code: Code,
    value: str,
    units: str,
    status: str,
    method: Code,
    model: ModelRef | None = None,
    observed_at: datetime | None = None,
    abnormal: str = "",
) -> Group:
    obs = order.add_group("ORU_R01_OBSERVATION")
    obx = obs.add_segment("OBX")
    obx.obx_1 = str(set_id)
    obx.obx_2 = value_type
    obx.obx_3 = _ce(code)
    obx.obx_4 = sub_id
    if value:
        obx.obx_5 = value
    if units:
        obx.obx_6 = units
    if abnormal:
        obx.obx_8 = abnormal
    # No value: "X", results cannot be obtained for this observation (table 0085), with the reason in an NTE.
    obx.obx_11 = status if value else "X"
    obx.obx_17 = _ce(method)
    if model:
        obx.obx_18 = _equipment(model)
    if observed_at:
        obx.obx_19 = _ts(observed_at)
    return obs


def _equipment(model: ModelRef) -> str:
    # EI: model name ^ version, then the weights' sha256 as the universal id of type L (local).
    ei = f"{hl7_escape(model.name or 'unknown')}^{hl7_escape(model.version or 'unknown')}"
    return f"{ei}^{model.sha256}^L" if model.sha256 else ei


def _too_few(n_cells: int) -> str:
    return f"No blast fraction: {CODE_TOO_FEW_CELLS.display.lower()} ({n_cells} counted) [{CODE_TOO_FEW_CELLS.code}]"


class _Obx:
    """Numbers OBX set ids (OBX-1) across the message."""

    def __init__(self, order: Group, status: str) -> None:
        self.order, self.status, self.set_id = order, status, 0

    def add(self, **kwargs: Any) -> Group:
        self.set_id += 1
        return _add_obx(self.order, set_id=self.set_id, status=self.status, **kwargs)


def _add_ai(
    obx: _Obx, *, sub_id: int, summary: Summary, label: str, model: ModelRef | None, analysed_at: datetime | None
) -> None:
    """The model's numbers (OBX-17 AI-PRECLASS): cells counted with the model named in an NTE, blast fraction with its
    interval in an NTE (no number from too few cells), the call with its explanation, the highest p."""
    s = summary
    common = {"sub_id": str(sub_id), "method": METHOD_AI, "model": model, "observed_at": analysed_at}
    cells = obx.add(value_type="NM", code=CODE_CELLS_COUNTED, value=str(s.n_cells), units="{cells}^cells^UCUM",
                    **common)  # fmt: skip
    by = model.description if model else "several model versions"
    _add_nte(cells, 1, f"Automated pre-classification by {by}; not the reviewed result.")
    lo, hi = s.blast_fraction_ci95
    withheld = fraction_withheld(n_cells=s.n_cells, call=s.call, flags=s.flags)
    blast = obx.add(value_type="NM", code=CODE_BLAST_FRACTION, value="" if withheld else f"{percent(s.blast_fraction):.2f}",
                    units="%^percent^UCUM", **common)  # fmt: skip
    _add_nte(
        blast,
        1,
        f"{_too_few(s.n_cells)}; {label}" if withheld else f"95% CI {percent(lo):.2f}-{percent(hi):.2f} %; {label}",
    )
    call = obx.add(value_type="CE", code=CODE_CALL, value=_ce(CALL_CODES[s.call]), units="",
                   abnormal=CALL_FLAGS.get(s.call, ""), **common)  # fmt: skip
    _add_nte(call, 1, call_text(s.call))
    obx.add(value_type="NM", code=CODE_MAX_P_BLAST, value=f"{s.max_p_blast:.4f}", units="1^ratio^UCUM",
            **common)  # fmt: skip


def _add_reviewed(obx: _Obx, r: SignedResult) -> None:
    """The signed, reviewed result (OBX-17 MANUAL-REVIEW, sub-id R): white cells counted, each class of the differential
    in its own OBX (LOINC per 100 leukocytes; smudge/artefact and unsure as local counts), the interpretation."""
    common = {"sub_id": REVIEWED_SUB_ID, "method": METHOD_REVIEW, "observed_at": r.signed_at}
    cells = obx.add(value_type="NM", code=CODE_CELLS_COUNTED, value=str(r.n_white_cells), units="{cells}^cells^UCUM",
                    **common)  # fmt: skip
    note = f"Signed result, report version {r.version} ({r.status}), signed by {r.signed_by}"
    note += f" ({r.signed_by_role})" if r.signed_by_role else ""
    note += f"; fewer than {r.min_cells} white cells reviewed" if r.below_minimum else ""
    _add_nte(cells, 1, note)
    withheld = fraction_withheld(n_cells=r.n_white_cells)
    for row in r.differential:
        code = DIFFERENTIAL_CODES[row.label]
        if not row.white:
            seg = obx.add(value_type="NM", code=code, value=str(row.count), units="{cells}^cells^UCUM", **common)
            _add_nte(seg, 1, f"{row.count} {row.display.lower()} (not counted among the white cells)")
            continue
        value = "" if withheld or row.percent is None else f"{row.percent:.2f}"
        seg = obx.add(value_type="NM", code=code, value=value, units="%^percent^UCUM", **common)
        text = f"{row.count} of {r.n_white_cells} white cells"
        if not value:
            text = f"{_too_few(r.n_white_cells)}; {text}"
        elif row.label == "blast":
            lo, hi = r.blast_fraction_ci95
            text = f"95% CI {percent(lo):.2f}-{percent(hi):.2f} %; {text}"
        _add_nte(seg, 1, text)
    interpretation = f"{hl7_escape(r.interpretation_code)}^{hl7_escape(r.interpretation_display)}^{LOCAL_HL7}"
    seg = obx.add(value_type="CE", code=CODE_INTERPRETATION, value=interpretation, units="",
                  abnormal=REVIEW_FLAGS.get(r.interpretation_code, ""), **common)  # fmt: skip
    if r.interpretation_text:
        _add_nte(seg, 1, r.interpretation_text)


def hl7_oru_build(
    *,
    report: ReportData,
    control_id: str | None = None,
    receiving_application: str = "",
    receiving_facility: str = "",
    processing_id: str = "P",
) -> Message:
    """Build the case's ORU^R01 and validate it strictly against HL7 v2.5.1.

    Args:
        report: The case's stored results, as plain data.
        control_id: MSH-10; a fresh random id when omitted (a receiver de-duplicates on it).
        receiving_application: MSH-5.
        receiving_facility: MSH-6.
        processing_id: MSH-11: P production, T training, D debugging.

    Returns:
        The ``hl7apy`` message; ``.to_er7()`` gives the wire text (segments separated by ``\\r``).

    Raises:
        hl7apy.exceptions.ValidationError: If the message does not conform (a bug here, not bad input).
    """
    status = RESULT_STATUS[report.status]
    m = Message("ORU_R01", version=VERSION, validation_level=VALIDATION_LEVEL.STRICT)
    m.msh.msh_3 = SENDING_APPLICATION
    m.msh.msh_4 = hl7_escape(report.lab_slug)
    if receiving_application:
        m.msh.msh_5 = hl7_escape(receiving_application)
    if receiving_facility:
        m.msh.msh_6 = hl7_escape(receiving_facility)
    m.msh.msh_7 = _ts(report.issued_at)
    m.msh.msh_9 = "ORU^R01^ORU_R01"
    m.msh.msh_10 = (control_id or uuid.uuid4().hex)[:199]
    m.msh.msh_11 = processing_id
    m.msh.msh_12 = VERSION
    m.msh.msh_15 = "AL"  # accept acknowledgement: always
    m.msh.msh_16 = "NE"  # application acknowledgement: never (the ACK to the MLLP send is enough)

    result = m.add_group("ORU_R01_PATIENT_RESULT")
    pid = result.add_group("ORU_R01_PATIENT").add_segment("PID")
    pid.pid_1 = "1"
    if report.patient_id:
        # PI: the lab's pseudonymous patient identifier; no name or birth date is ever sent.
        pid.pid_3 = f"{hl7_escape(report.patient_id)}^^^{hl7_escape(report.lab_slug)}^PI"
    else:
        pid.pid_3 = f"{hl7_escape(report.accession_number)}^^^{hl7_escape(report.lab_slug)}^ACSN"
    pid.pid_5 = "^^^^^^S"  # name type S: coded pseudo-name to assure anonymity (table 0200)

    order = result.add_group("ORU_R01_ORDER_OBSERVATION")
    placer = f"{hl7_escape(report.accession_number)}^{hl7_escape(report.lab_slug)}"
    filler = f"{report.case_id}^{SENDING_APPLICATION}"
    orc = order.add_segment("ORC")
    orc.orc_1 = "RE"  # observations to follow
    orc.orc_2 = placer
    orc.orc_3 = filler
    orc.orc_5 = "CM" if report.status != "preliminary" else "IP"
    obr = order.add_segment("OBR")
    obr.obr_1 = "1"
    obr.obr_2 = placer
    obr.obr_3 = filler
    obr.obr_4 = _ce(CODE_REPORT)
    if report.specimen_collected_at:
        obr.obr_7 = _ts(report.specimen_collected_at)
    obr.obr_22 = _ts(report.issued_at)
    obr.obr_24 = "HM"  # diagnostic service section: haematology
    obr.obr_25 = status
    _add_nte(order, 1, report.conclusion_text)
    for n, slide in enumerate((s for s in report.slides if not s.reportable), start=2):
        state = f"analysis failed: {slide.error or 'no reason recorded'}" if slide.status == "failed" else "pending"
        _add_nte(order, n, f"Slide {slide.filename or slide.slide_id} not reported ({state}).")

    obx = _Obx(order, status)
    if report.signed is not None:
        # Once signed, the reviewed values are the result and come first; the AI's follow as its pre-classification.
        _add_reviewed(obx, report.signed)
    if report.case_summary is not None:
        # Sub-id 0: the whole case (every cell of every analysed slide); slides follow with their position.
        models = report.models
        n_done = len(report.reportable_slides)
        _add_ai(obx, sub_id=0, summary=report.case_summary, label=f"whole case ({n_done} slide{'s' if n_done != 1 else ''})",
                model=models[0] if len(models) == 1 else None, analysed_at=None)  # fmt: skip
    for sub_id, slide in enumerate(report.slides, start=1):
        if not slide.reportable:
            continue
        assert slide.summary is not None
        _add_ai(obx, sub_id=sub_id, summary=slide.summary, label=f"slide {slide.filename or slide.slide_id}",
                model=slide.model, analysed_at=slide.analysed_at)  # fmt: skip
    m.validate()
    return m


def hl7_oru_er7(*, report: ReportData, **kwargs: str) -> str:
    """The validated ORU^R01 as ER7 wire text: every segment, the last one too, ends with a carriage return.

    HL7 v2 (2.5.1 chapter 2, "message construction rules") terminates each segment with ``<CR>``; ``hl7apy`` joins
    segments with it and leaves the last one bare, so it is added here. MLLP then frames the whole as
    ``<VT> message <FS><CR>``.
    """
    return hl7_oru_build(report=report, **kwargs).to_er7() + "\r"
