"""The examples in docs/examples/ (linked from docs/api.md) are what the code sends, not hand-written text.

One case, built through the real services (upload rows, review, sign-off): 10 cells, the model calls 4 blasts; the
pathologist 3 blasts, 5 lymphocytes, a neutrophil and a monocyte. What changes from run to run (database ids, the
time of the request, of the analysis and of the signature, the message control id) is pinned to fixed values before
building, so the files are stable. The test fails when the output no longer matches the files; regenerate them with

    ALLLAB_WRITE_EXAMPLES=1 .venv/bin/pytest tests/alllab/interop/test_examples.py

and review the diff.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from alllab.accounts.scope import scope_for_user
from alllab.analysis.models import AnalysisRun
from alllab.analysis.selectors import slides_with_current_run
from alllab.analysis.services import case_summary_refresh
from alllab.interop.adapters import report_data_for_case
from alllab.interop.fhir import fhir_bundle_json
from alllab.interop.hl7 import hl7_oru_er7
from alllab.interop.report import ReportData
from alllab.interop.representations import case_json
from alllab.interop.serializers import CaseDetailSerializer
from alllab.review.models import ReportVersion
from alllab.review.services import case_sign_off, cell_reclassify
from tests.alllab.factories import AnalysisRunFactory, CaseFactory, CellFactory, SlideFactory

pytestmark = pytest.mark.django_db
EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples"
WRITE = os.environ.get("ALLLAB_WRITE_EXAMPLES") == "1"
ISSUED = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
ANALYSED = datetime(2026, 11, 29, 11, 0, tzinfo=UTC)
SIGNED = datetime(2026, 11, 29, 11, 45, tzinfo=UTC)
SHA = "3f5c0d9e" * 8  # stands for the weights' sha256 (the worker records the real one)
P_BLAST = (0.95, 0.9, 0.8, 0.7, 0.3, 0.2, 0.2, 0.1, 0.1, 0.05)
REVIEW = ("blast",) * 3 + ("lymphocyte",) * 5 + ("neutrophil", "monocyte")


def _pinned(report: ReportData) -> ReportData:
    slides = tuple(dataclasses.replace(s, slide_id=11, analysed_at=ANALYSED) for s in report.slides)
    return dataclasses.replace(report, case_id=7, issued_at=ISSUED, slides=slides)


def _outputs(case, user) -> dict[str, str]:
    report = _pinned(
        report_data_for_case(case=case, slides=slides_with_current_run(scope=scope_for_user(user), case=case))
    )
    bundle = json.dumps(json.loads(fhir_bundle_json(report=report)), indent=2) + "\n"
    er7 = hl7_oru_er7(report=report, control_id="EXAMPLE-1")
    body = CaseDetailSerializer(
        case_json(
            case, scope=scope_for_user(user), slides=slides_with_current_run(scope=scope_for_user(user), case=case)
        )
    ).data
    part = {"report_status": body["report_status"], "result": body["result"], "summary": body["summary"]}
    part["pre_classification"] = body["pre_classification"]
    return {
        "fhir.json": bundle,
        # One segment a line for reading; on the wire each segment ends with a carriage return.
        "hl7": er7.replace("\r", "\n"),
        "case.json": json.dumps(part, indent=2) + "\n",
    }


def _check(name: str, text: str) -> None:
    path = EXAMPLES / name
    if WRITE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.read_text() == text, f"{path} is stale: regenerate it (see this module's docstring)"


def test_it_matches_the_examples_before_and_after_sign_off(lab, technician, pathologist):
    pathologist.first_name, pathologist.last_name = "Ada", "Moreau"
    pathologist.save()
    case = CaseFactory(
        lab=lab, created_by=technician, accession_number="ACC-0001", patient_pseudonym="PSN-42",
        specimen_date=date(2026, 11, 28),
    )  # fmt: skip
    slide = SlideFactory(case=case, original_filename="smear-1.png")
    run = AnalysisRunFactory(
        slide=slide, status=AnalysisRun.Status.DONE, model_name="hybrid-vgg", model_version="1.2.0",
        model_sha256=SHA, n_cells=10, n_blast=4, blast_fraction=0.4, blast_fraction_ci95_lo=0.1682,
        blast_fraction_ci95_hi=0.6873, max_p_blast=0.95, call="suspicious",
        quality={"focus": 100.0, "stain": {}, "flags": [], "ok": True}, finished_at=ANALYSED,
    )  # fmt: skip
    cells = [CellFactory(run=run, index=i, p_blast=p) for i, p in enumerate(P_BLAST)]
    case_summary_refresh(case=case)
    case.refresh_from_db()

    for name, text in _outputs(case, pathologist).items():
        _check(f"preliminary.{name}", text)

    for cell, label in zip(cells, REVIEW, strict=True):
        cell_reclassify(scope=scope_for_user(pathologist), user=pathologist, case=case, cell_ids=[cell.id], label=label)
    case_sign_off(
        scope=scope_for_user(pathologist),
        user=pathologist,
        case=case,
        interpretation="blasts_present",
        text="Refer for flow cytometry.",
    )
    # Pin the signature's time in the frozen version itself (an UPDATE: the row refuses save()), so every output
    # that reads it (conclusion, result, notes) is stable.
    version = ReportVersion.objects.get(case=case)
    ReportVersion.objects.filter(pk=version.pk).update(
        signed_at=SIGNED, snapshot={**version.snapshot, "signed_at": SIGNED.isoformat()}
    )
    case.refresh_from_db()
    signed = _outputs(case, pathologist)
    for name, text in signed.items():
        _check(f"signed.{name}", text)
    assert "26446-5^Blasts/100 leukocytes in Blood^LN|R|30.00|" in signed["hl7"]  # the reviewed result, first


def test_it_quotes_the_examples_in_the_api_doc_verbatim():
    doc = (EXAMPLES.parent / "api.md").read_text()
    blocks = re.findall(r"<!-- example: (\S+) -->\n```text\n(.*?)```", doc, re.S)
    assert {name for name, _ in blocks} == {"preliminary.hl7", "signed.hl7", "signed.case.json"}
    for name, block in blocks:
        lines = (EXAMPLES / name).read_text().splitlines()
        for line in block.splitlines():
            assert line in lines, f"docs/api.md quotes a line that {name} does not have: {line[:80]}"
