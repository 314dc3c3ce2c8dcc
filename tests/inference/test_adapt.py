"""Label-free calibration on synthetic smears: new BatchNorm statistics (the AdaBN estimate), the lab's stain
target and domain reference, a new version with provenance, and a checkpoint that still loads strictly and
runs through the predictor's fused path."""

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from inference.adapt import calibrate_checkpoint, main, matched_operating_point, reestimate_batchnorm
from inference.models import load_checkpoint
from inference.predict import Predictor
from inference.stain import lab_stats

from .classifier_synthetic import tiny_checkpoint
from .synthetic import make_smear

TARGET = {"mean": [150.0, 135.0, 120.0], "std": [20.0, 8.0, 8.0]}


def _lab_smears(tmp_path, n=5):
    """Another lab: hue turned 25 degrees and paler, as image files in one folder."""
    folder = tmp_path / "lab"
    folder.mkdir()
    for s in range(n):
        rgb = make_smear(n_single=6, n_pairs=1, seed=s, hue_shift_deg=25.0, saturation=0.7).rgb
        cv2.imwrite(str(folder / f"smear{s}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return folder


def test_it_estimates_batchnorm_statistics_as_the_mean_over_the_lab_batches():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.5)).eval()
    batches = [torch.randn(8, 3, 10, 10) * 2 + 3 for _ in range(4)]
    assert reestimate_batchnorm(model, batches) == 1
    bn = model[1]
    with torch.no_grad():
        conv = torch.cat([model[0](x) for x in batches])  # (32, 4, 8, 8)
    assert torch.allclose(bn.running_mean, conv.mean(dim=(0, 2, 3)), atol=1e-4)
    assert not bn.training and not model[3].training and bn.momentum == 0.1  # left in eval, momentum restored


def test_it_calibrates_a_checkpoint_to_a_labs_unlabelled_smears(tmp_path):
    base = tiny_checkpoint(tmp_path / "base.pt", stain=TARGET)
    folder = _lab_smears(tmp_path)
    out = tmp_path / "lab.pt"
    res = calibrate_checkpoint(base, sorted(folder.iterdir()), out, lab="test lab")
    before, after = load_checkpoint(base), load_checkpoint(out)  # strict loading, sha256 checked
    sb, sa = before.model.state_dict(), after.model.state_dict()
    assert sb.keys() == sa.keys() and all(sb[k].shape == sa[k].shape for k in sb)
    bn_keys = [k for k in sb if k.endswith("running_mean") or k.endswith("running_var")]
    assert bn_keys and all(not torch.allclose(sb[k], sa[k]) for k in bn_keys)
    conv_keys = [k for k in sb if k.endswith("weight") and sb[k].ndim == 4]
    assert all(torch.equal(sb[k], sa[k]) for k in conv_keys)  # learnt weights kept
    # the stain target is the lab's mean LAB statistics
    stats = [lab_stats(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)) for p in sorted(folder.iterdir())]
    assert after.preprocessing.stain["mean"] == pytest.approx(np.mean([s["mean"] for s in stats], 0).tolist())
    assert after.preprocessing.stain != before.preprocessing.stain
    # domain reference, version, provenance; operating point and temperature kept
    assert after.preprocessing.domain and after.preprocessing.domain["thresholds"]["cell_features"] > 0
    assert after.version == res.version != before.version and res.version.startswith("0.0.0-test+cal.")
    prov = after.extra["calibration"]
    assert prov["base_sha256"] == before.sha256 and prov["lab"] == "test lab" and len(prov["smears"]) == 5
    assert len(prov["held_out_for_domain_thresholds"]) == 1
    op_b, op_a = before.preprocessing.operating_point, after.preprocessing.operating_point
    assert op_a.min_blasts == op_b.min_blasts and after.temperature == before.temperature
    assert op_a == op_b or op_a.chosen_on.startswith("label-free")
    # the predictor folds the new statistics and analyses the lab's smear, with a domain result
    result = Predictor.load(out).analyze(make_smear(n_single=4, seed=9, hue_shift_deg=25.0, saturation=0.7).rgb)
    assert result.cells and result.domain is not None and result.model_version == res.version


def test_it_refuses_too_few_smears_on_the_command_line(tmp_path, capsys):
    base = tiny_checkpoint(tmp_path / "base.pt", stain=TARGET)
    folder = _lab_smears(tmp_path, n=2)
    assert main([str(folder), "--base", str(base), "--out", str(tmp_path / "x.pt")]) == 2
    assert "at least 3 readable smears" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()


def test_it_writes_a_calibrated_checkpoint_from_the_command_line(tmp_path, capsys):
    import json

    base = tiny_checkpoint(tmp_path / "base.pt", stain=TARGET)
    folder = _lab_smears(tmp_path, n=4)
    out = tmp_path / "lab.pt"
    assert main([str(folder), "--base", str(base), "--out", str(out), "--version", "lab-1", "--no-stain"]) == 0
    printed = json.loads(capsys.readouterr().out)
    ck = load_checkpoint(out)
    assert printed["version"] == ck.version == "lab-1" and printed["sha256"] == ck.sha256
    assert ck.preprocessing.stain == TARGET  # --no-stain kept the base's target
    assert "BatchNorm statistics" in ck.extra["calibration"]["method"]


def test_it_moves_the_threshold_to_keep_the_labs_count_of_blast_cells():
    from inference.operating import OperatingPoint

    rng = np.random.default_rng(0)
    base_p = rng.random(200)
    new_p = base_p**3  # AdaBN moved every score down, the order kept
    op = OperatingPoint(cell_threshold=0.6, min_blasts=2, target_sensitivity=0.95, val_sensitivity=0.96)
    moved = matched_operating_point(op, base_p, new_p, n_smears=5)
    assert (new_p >= moved.cell_threshold).sum() == (base_p >= 0.6).sum()
    assert moved.cell_threshold == pytest.approx(0.6**3, abs=0.02) and moved.min_blasts == 2
    assert moved.val_sensitivity is None and moved.chosen_on.startswith("label-free")
    assert matched_operating_point(op, np.zeros(5), new_p[:5], n_smears=1) == op  # nothing to match: kept


@pytest.mark.parametrize("n", [10, 64, 70, 100, 129, 150])
def test_batchnorm_batches_cover_every_cell_once_without_a_short_last_batch(n):
    from inference.adapt import batchnorm_batches

    batches = batchnorm_batches(n, seed=0, size=64)
    flat = torch.cat(batches).tolist()
    assert sorted(flat) == list(range(n))  # every cell once (a short batch folded into the wrong one lost/duplicated)
    if len(batches) > 1:
        assert min(len(b) for b in batches) >= 32
