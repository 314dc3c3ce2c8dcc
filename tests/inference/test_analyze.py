"""End-to-end analysis of a synthetic smear: the JSON shape of ``python -m inference.analyze`` and the Predictor."""

import json

import cv2
import numpy as np
import pytest

from inference.analyze import main, probability_colour
from inference.predict import Predictor

from .classifier_synthetic import tiny_checkpoint
from .synthetic import make_smear


@pytest.fixture
def model(tmp_path):
    return tiny_checkpoint(tmp_path / "m.pt", stain={"mean": [190.0, 140.0, 118.0], "std": [35.0, 10.0, 10.0]})


def test_it_returns_a_smear_result_with_one_probability_per_cell(model):
    smear = make_smear(seed=1)
    calls = []
    result = Predictor.load(model).analyze(smear.rgb, progress=lambda *a: calls.append(a))
    assert len(result.cells) == len(result.segmentation.cells) >= 3
    assert all(0 <= c.p_blast <= 1 for c in result.cells)
    assert all(c.heatmap is not None and c.heatmap.shape == c.crop.shape[:2] for c in result.cells)
    assert result.summary.n_cells == len(result.cells)
    assert set(result.timings_ms) >= {"segment", "classify", "total"}
    assert result.timings_ms["total"] >= result.timings_ms["segment"]
    assert [c[0] for c in calls] == ["segment", "segment", "classify", "heatmap"]


def test_it_prints_one_json_line_per_image_with_a_summary(model, tmp_path, capsys):
    img = tmp_path / "smear.png"
    cv2.imwrite(str(img), cv2.cvtColor(make_smear(seed=2).rgb, cv2.COLOR_RGB2BGR))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    out_dir = tmp_path / "out"
    rc = main([str(img), str(bad), "--model", str(model), "--json", "--out", str(out_dir)])
    assert rc == 1  # one image failed
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2
    good, failed = lines
    assert failed["image"] == str(bad) and "error" in failed and "message" in failed
    assert set(good["summary"]) == {
        "n_cells",
        "n_blast",
        "blast_fraction",
        "blast_fraction_ci95",
        "max_p_blast",
        "call",
        "flags",
        "model_version",
    }
    assert good["summary"]["n_cells"] == len(good["cells"]) > 0
    assert all(0 <= c["p_blast"] <= 1 for c in good["cells"])
    assert {"bbox", "centroid", "area_px", "p_blast"} <= set(good["cells"][0])
    assert good["model"]["version"] == "0.0.0-test"
    lo, hi = good["summary"]["blast_fraction_ci95"]
    assert 0 <= lo <= good["summary"]["blast_fraction"] <= hi <= 1
    assert (out_dir / "smear_overlay.png").exists()
    assert len(list(out_dir.glob("smear_cell*_heatmap.png"))) == len(good["cells"])


def test_it_colours_probabilities_from_green_to_red():
    assert probability_colour(0.0) == (0, 255, 0)
    assert probability_colour(1.0) == (255, 0, 0)
    assert probability_colour(0.5) == (255, 255, 0)


def test_it_refuses_a_grey_image(model):
    with pytest.raises(ValueError, match="uint8 RGB"):
        Predictor.load(model).analyze(np.zeros((50, 50), np.uint8))
