"""HL7 v2.5.1 ORU^R01 result message for one case, built and validated with ``hl7apy``.

Layout: MSH, PID, ORC, OBR (the screen as one order), NTE (the conclusion), then for the whole case (OBX-4 sub-id 0)
and for each reported slide (sub-id = its position) an OBX for white cells counted, blast fraction (%) followed by
an NTE with its 95% interval, the call, and the highest blast probability. OBX-18 names the model and version.
A slide without results (failed or pending) gets an NTE under the OBR rather than being silently dropped.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Group, Message

from .report import (
    CALL_CODES,
    CODE_BLAST_FRACTION,
    CODE_CALL,
    CODE_CELLS_COUNTED,
    CODE_MAX_P_BLAST,
    CODE_REPORT,
    Code,
    ReportData,
    SlideSummary,
    percent,
)

VERSION = "2.5.1"
# OBR-25 / OBX-11 result status (HL7 table 0085 / 0123): preliminary, final, corrected.
RESULT_STATUS = {"preliminary": "P", "final": "F", "amended": "C"}
SENDING_APPLICATION = "ALL-Lab"


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
    sub_id: int,
    value_type: str,
    code: Code,
    value: str,
    units: str,
    status: str,
    model: tuple[str, str] | None,
    analysed_at: datetime | None,
    abnormal: str = "",
) -> Group:
    obs = order.add_group("ORU_R01_OBSERVATION")
    obx = obs.add_segment("OBX")
    obx.obx_1 = str(set_id)
    obx.obx_2 = value_type
    obx.obx_3 = _ce(code)
    obx.obx_4 = str(sub_id)
    obx.obx_5 = value
    if units:
        obx.obx_6 = units
    if abnormal:
        obx.obx_8 = abnormal
    obx.obx_11 = status
    if model:
        obx.obx_18 = f"{hl7_escape(model[0] or 'unknown')}^{hl7_escape(model[1] or 'unknown')}"
    if analysed_at:
        obx.obx_19 = _ts(analysed_at)
    return obs


def _add_summary(
    order: Group,
    *,
    set_id: int,
    sub_id: int,
    summary: SlideSummary,
    status: str,
    label: str,
    model: tuple[str, str] | None,
    analysed_at: datetime | None,
) -> int:
    """Four OBX (cells counted, blast fraction with its interval in an NTE, call, highest p); returns the last set id."""
    s = summary
    common = {"sub_id": sub_id, "status": status, "model": model, "analysed_at": analysed_at}
    _add_obx(order, set_id=set_id + 1, value_type="NM", code=CODE_CELLS_COUNTED, value=str(s.n_cells),
             units="{cells}^cells^UCUM", **common)  # fmt: skip
    lo, hi = s.blast_fraction_ci95
    blast = _add_obx(order, set_id=set_id + 2, value_type="NM", code=CODE_BLAST_FRACTION,
                     value=f"{percent(s.blast_fraction):.2f}", units="%^percent^UCUM", **common)  # fmt: skip
    _add_nte(blast, 1, f"95% CI {percent(lo):.2f}-{percent(hi):.2f} %; {label}")
    _add_obx(order, set_id=set_id + 3, value_type="CE", code=CODE_CALL, value=_ce(CALL_CODES[s.call]), units="",
             abnormal="A" if s.call == "suspicious" else "N" if s.call == "negative" else "", **common)  # fmt: skip
    _add_obx(order, set_id=set_id + 4, value_type="NM", code=CODE_MAX_P_BLAST, value=f"{s.max_p_blast:.4f}",
             units="1^ratio^UCUM", **common)  # fmt: skip
    return set_id + 4


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

    set_id = 0
    if report.case_summary is not None:
        # Sub-id 0: the whole case (every cell of every analysed slide); slides follow with their position.
        models = report.models
        n_done = len(report.reportable_slides)
        set_id = _add_summary(order, set_id=set_id, sub_id=0, summary=report.case_summary, status=status,
                              label=f"whole case ({n_done} slide{'s' if n_done != 1 else ''})",
                              model=models[0] if len(models) == 1 else None, analysed_at=None)  # fmt: skip
    for sub_id, slide in enumerate(report.slides, start=1):
        if not slide.reportable:
            continue
        assert slide.summary is not None
        set_id = _add_summary(order, set_id=set_id, sub_id=sub_id, summary=slide.summary, status=status,
                              label=f"slide {slide.filename or slide.slide_id}",
                              model=(slide.model_name, slide.model_version), analysed_at=slide.analysed_at)  # fmt: skip
    m.validate()
    return m


def hl7_oru_er7(*, report: ReportData, **kwargs: str) -> str:
    """The validated ORU^R01 as ER7 wire text (``\\r``-separated segments)."""
    return hl7_oru_build(report=report, **kwargs).to_er7()
