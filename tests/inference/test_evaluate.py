"""``python -m inference.evaluate`` on a generated manifest."""

import json

import cv2
import numpy as np
import pytest

from inference import datasets_root
from inference.predict import Predictor
from inference.training.evaluate import main
from inference.training.metrics import binary_metrics

from .classifier_synthetic import cell, tiny_checkpoint


def _manifest(tmp_path, n=12):
    rng = np.random.default_rng(0)
    (tmp_path / "cells").mkdir()
    lines, crops, labels = ["path,label,reviewer"], [], []
    for i in range(n):
        label = i % 2
        crop = cell(label, rng)
        cv2.imwrite(str(tmp_path / "cells" / f"{i}.png"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
        lines.append(f"cells/{i}.png,{label},someone")
        crops.append(crop)
        labels.append(label)
    path = tmp_path / "manifest.csv"
    path.write_text("\n".join(lines) + "\n")
    return path, crops, labels


def test_it_prints_the_metrics_of_the_model_on_the_manifest(tmp_path, capsys):
    manifest, crops, labels = _manifest(tmp_path)
    model = tiny_checkpoint(tmp_path / "m.pt")
    assert main(["--manifest", str(manifest), "--model", str(model), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"n", "accuracy", "precision", "recall", "specificity", "f1", "mcc", "auroc", "ms_per_image"}
    assert out["n"] == 12
    expected = binary_metrics(labels, Predictor.load(model).predict_crops(crops))
    for k in ("accuracy", "precision", "recall", "specificity", "f1", "mcc", "auroc"):
        assert out[k] == round(expected[k], 4)
    assert out["ms_per_image"] > 0


def test_it_can_reframe_each_image_around_its_cell_first(tmp_path, capsys):
    manifest, crops, labels = _manifest(tmp_path)
    model = tiny_checkpoint(tmp_path / "m.pt")
    assert main(["--manifest", str(manifest), "--model", str(model), "--framing", "auto", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    expected = binary_metrics(labels, Predictor.load(model).predict_cells(crops)[0])
    assert out["auroc"] == round(expected["auroc"], 4) and out["mcc"] == round(expected["mcc"], 4)


def test_it_reports_a_missing_image_by_name(tmp_path, capsys):
    (tmp_path / "m.csv").write_text("path,label\nabsent.png,1\n")
    model = tiny_checkpoint(tmp_path / "m.pt")
    assert main(["--manifest", str(tmp_path / "m.csv"), "--model", str(model), "--json"]) == 2
    assert "absent.png" in capsys.readouterr().err


@pytest.mark.datasets
@pytest.mark.skipif(not (datasets_root() / "BCCD" / "BCCD").is_dir(), reason="BCCD not present")
def test_the_other_lab_check_counts_every_field_and_cell(tmp_path, capsys):
    from inference.training import eval_bccd

    model = tiny_checkpoint(tmp_path / "m.pt")
    assert eval_bccd.main(["--model", str(model), "--split", "test", "--limit", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["split"] == "test" and out["smears"]["n"] == 4 and sum(out["smears"]["calls"].values()) == 4
    assert len(out["cells"]) == 6  # 3 framings x (as-is, auto)
    for row in out["cells"]:
        assert row["n"] >= 4 and 0 <= row["specificity"] <= 1
        assert row["reframed"] <= row["n"] if row["framing"] == "auto" else row["reframed"] == 0
