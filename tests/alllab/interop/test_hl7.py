"""The ORU^R01 parses back under strict HL7 v2.5.1 validation and carries the stored numbers field by field."""

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from alllab.analysis.summaries import Summary
from alllab.interop.hl7 import hl7_escape, hl7_oru_er7, hl7_unescape
from alllab.interop.report import SlideResult

from .factories import done_slide, report


def _parse(r, **kwargs):
    er7 = hl7_oru_er7(report=r, control_id="CTRL-1", **kwargs)
    assert "\n" not in er7  # segments are separated by carriage returns only
    msg = parse_message(er7, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    msg.validate()
    return msg, er7


def _segments(er7: str, name: str) -> list[list[str]]:
    return [s.split("|") for s in er7.split("\r") if s.startswith(name + "|")]


def test_it_builds_the_header():
    msg, _ = _parse(report(), receiving_application="LIS", receiving_facility="HOSP")
    assert msg.msh.msh_9.to_er7() == "ORU^R01^ORU_R01"
    assert msg.msh.msh_12.to_er7() == "2.5.1"
    assert msg.msh.msh_10.to_er7() == "CTRL-1"
    assert msg.msh.msh_3.to_er7() == "ALL-Lab"
    assert msg.msh.msh_4.to_er7() == "north"
    assert msg.msh.msh_5.to_er7() == "LIS"
    assert msg.msh.msh_6.to_er7() == "HOSP"
    assert msg.msh.msh_7.to_er7() == "20261129120000+0000"


def test_it_identifies_the_patient_by_pseudonym_only():
    _, er7 = _parse(report())
    (pid,) = _segments(er7, "PID")
    assert pid[3] == "PSN-42^^^north^PI"
    assert pid[5] == "^^^^^^S"  # name type S: pseudonym, no name sent
    assert len(pid) <= 6  # nothing after the name: no birth date, sex or address


def test_it_falls_back_to_the_accession_when_there_is_no_pseudonym():
    _, er7 = _parse(report(patient_id=""))
    assert _segments(er7, "PID")[0][3] == "ACC-0001^^^north^ACSN"


def test_it_builds_the_order_and_its_conclusion():
    _, er7 = _parse(report())
    (orc,) = _segments(er7, "ORC")
    (obr,) = _segments(er7, "OBR")
    assert orc[1:4] == ["RE", "ACC-0001^north", "7^ALL-Lab"]
    assert obr[2:5] == [
        "ACC-0001^north",
        "7^ALL-Lab",
        "ALL-SCREEN^Automated blood smear screen for leukaemic blasts^99ALL",
    ]
    assert obr[7] == "20261128083000+0000"
    assert obr[24] == "HM"
    assert obr[25] == "P"
    first_nte = _segments(er7, "NTE")[0]
    assert first_nte[3].startswith("Slide smear-1.png: suspicious, 4 of 40 white cells")


def test_it_writes_one_obx_per_result_with_codes_values_and_units():
    _, er7 = _parse(report())
    obx = {s[3].split("^")[0]: s for s in _segments(er7, "OBX")}
    assert list(obx) == ["11282-1", "26446-5", "BLAST-CALL", "MAX-P-BLAST"]
    assert [s[1] for s in obx.values()] == ["1", "2", "3", "4"]
    assert obx["11282-1"][2:7] == ["NM", "11282-1^Cells Counted Total [#] in Blood^LN", "1", "40", "{cells}^cells^UCUM"]
    assert obx["26446-5"][5:7] == ["10.00", "%^percent^UCUM"]
    assert obx["BLAST-CALL"][2] == "CE"
    assert obx["BLAST-CALL"][5] == "suspicious^Suspicious for blasts: review the smear^99ALL"
    assert obx["BLAST-CALL"][8] == "A"
    assert obx["MAX-P-BLAST"][5] == "0.9731"
    for s in obx.values():
        assert s[11] == "P"
        assert s[18] == "hybrid-vgg^1.2.0"
        assert s[19] == "20261129110000+0000"


def test_it_follows_the_blast_fraction_with_its_interval():
    _, er7 = _parse(report())
    lines = er7.split("\r")
    at = next(i for i, s in enumerate(lines) if s.startswith("OBX|2|"))
    assert lines[at + 1] == "NTE|1|L|95% CI 3.96-23.05 %; slide smear-1.png"


def test_it_numbers_slides_in_the_sub_id_and_notes_failed_ones():
    neg = Summary(30, 0, 0.0, (0.0, 0.1135), 0.21, "negative")
    r = report(
        slides=(done_slide(1), SlideResult(2, "bad.png", "failed", error="unreadable"), done_slide(3, summary=neg))
    )
    _, er7 = _parse(r)
    obx = _segments(er7, "OBX")
    assert len(obx) == 8
    assert [s[4] for s in obx] == ["1"] * 4 + ["3"] * 4
    assert [s[1] for s in obx] == [str(n) for n in range(1, 9)]
    assert obx[6][8] == "N"  # the negative call
    assert any("bad.png not reported (analysis failed: unreadable)" in s[3] for s in _segments(er7, "NTE"))


def test_it_maps_final_and_amended_to_f_and_c():
    for status, code in (("final", "F"), ("amended", "C")):
        _, er7 = _parse(report(status=status, conclusion="Reviewed."))
        assert _segments(er7, "OBR")[0][25] == code
        assert {s[11] for s in _segments(er7, "OBX")} == {code}
        assert _segments(er7, "ORC")[0][5] == "CM"


def test_it_escapes_delimiters_in_free_text():
    tricky = "a|b^c&d~e\\f\rg.png"
    _, er7 = _parse(report(slides=(done_slide(filename=tricky),), conclusion="x|y"))
    nte = _segments(er7, "NTE")
    assert nte[0][3] == "x\\F\\y"
    assert any(hl7_unescape(n[3]).endswith("slide a|b^c&d~e\\f g.png") for n in nte)


def test_it_round_trips_escaping():
    text = "pipe | caret ^ amp & tilde ~ backslash \\ done"
    assert hl7_unescape(hl7_escape(text)) == text


def test_it_sends_a_bare_date_at_day_precision():
    import datetime as dt

    _, er7 = _parse(report(specimen_collected_at=dt.date(2026, 11, 28)))
    assert _segments(er7, "OBR")[0][7] == "20261128"


def test_it_sends_the_whole_case_as_sub_id_zero_before_the_slides():
    case = Summary(n_cells=70, n_blast=4, blast_fraction=4 / 70, blast_fraction_ci95=(0.0225, 0.1378),
                        max_p_blast=0.9731, call="suspicious")  # fmt: skip
    _, er7 = _parse(report(slides=(done_slide(1), done_slide(2)), case_summary=case))
    obx = _segments(er7, "OBX")
    assert [s[4] for s in obx] == ["0"] * 4 + ["1"] * 4 + ["2"] * 4
    assert [s[1] for s in obx] == [str(n) for n in range(1, 13)]
    assert (obx[0][5], obx[1][5]) == ("70", "5.71")
    assert obx[0][18] == "hybrid-vgg^1.2.0"
    assert obx[0][19:20] in ([], [""])  # no single analysis time for the whole case
    lines = er7.split("\r")
    at = next(i for i, s in enumerate(lines) if s.startswith("OBX|2|"))
    assert lines[at + 1] == "NTE|1|L|95% CI 2.25-13.78 %; whole case (2 slides)"
