"""The reviewed-cell dataset: a zip whose manifest ``inference.evaluate`` reads (round trip), for lab admins only."""

import csv
import io
import json
import zipfile

import pytest

from alllab.accounts.scope import scope_for_user
from alllab.review.models import AuditEvent
from alllab.review.services import cell_reclassify
from inference.evaluate import main as evaluate_main
from tests.inference.classifier_synthetic import tiny_checkpoint

pytestmark = pytest.mark.django_db


def _export(client, tmp_path, **params):
    response = client.get("/review/export.zip", params)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    zipfile.ZipFile(io.BytesIO(response.content)).extractall(tmp_path / "export")
    return tmp_path / "export" / "manifest.csv"


@pytest.fixture
def reviewed(review_case, pathologist):
    case, cells, _ = review_case
    for cell, label in zip(cells, ["blast", "blast", "lymphocyte", "other_wbc", "artefact", "unsure"], strict=True):
        cell_reclassify(scope=scope_for_user(pathologist), user=pathologist, case=case, cell_ids=[cell.id], label=label)
    return case, cells


def test_it_exports_crops_and_a_path_label_manifest(labadmin_client, reviewed, tmp_path, lab_admin):
    case, cells = reviewed
    manifest = _export(labadmin_client, tmp_path)
    with manifest.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["path", "label", "review_label", "ai_p_blast", "model_version"]
    by_path = {r["path"]: r for r in rows}
    expected = {cells[0].id: "1", cells[1].id: "1", cells[2].id: "0", cells[3].id: "0"}  # artefact, unsure left out
    assert {p: r["label"] for p, r in by_path.items()} == {f"cells/{i}.png": v for i, v in expected.items()}
    assert by_path[f"cells/{cells[3].id}.png"]["review_label"] == "other_wbc"
    for path in by_path:
        assert (manifest.parent / path).read_bytes().startswith(b"\x89PNG")
    assert case.patient_pseudonym not in manifest.read_text() and case.accession_number not in manifest.read_text()
    event = AuditEvent.objects.get(action="export")
    assert event.actor == lab_admin and event.detail == {"n_cells": 4}


def test_its_manifest_reads_back_with_the_inference_reader(labadmin_client, reviewed, tmp_path):
    from inference.training.data import read_manifest

    rows = read_manifest(_export(labadmin_client, tmp_path))
    assert sorted(label for _, label in rows) == [0, 0, 1, 1]
    assert all(path.is_file() for path, _ in rows)


def test_it_round_trips_through_inference_evaluate(labadmin_client, reviewed, tmp_path, capsys):
    manifest = _export(labadmin_client, tmp_path)
    model = tiny_checkpoint(tmp_path / "tiny.pt")
    assert evaluate_main(["--manifest", str(manifest), "--model", str(model), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 4


def test_it_is_for_lab_admins_of_the_lab_asked_for(client, pathologist, lab_admin, reviewed, other_lab):
    client.force_login(pathologist)
    assert client.get("/review/export.zip").status_code == 403
    client.force_login(lab_admin)
    assert client.get("/review/export.zip", {"lab": other_lab.id}).status_code == 403
    assert client.get("/review/export.zip", {"lab": "x"}).status_code == 400


def test_it_says_so_when_there_is_nothing_to_export(labadmin_client, review_case):
    response = labadmin_client.get("/review/export.zip")
    assert response.status_code == 404 and b"No reviewed white cells" in response.content
