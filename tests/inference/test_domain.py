"""The domain check on synthetic smears: a reference fitted on in-domain smears (thresholds on other, held-out
in-domain smears) passes new in-domain smears and flags stain-shifted and rescaled ones, with the reason,
and an out-of-domain smear is called "unvalidated" end to end through ``Predictor.analyze``."""

import io

import cv2
import numpy as np
import pytest
import torch

from inference.domain import QUANTILE, DomainReference, fit_on_smears, with_thresholds
from inference.models import load_checkpoint, save_checkpoint
from inference.predict import Predictor

from .classifier_synthetic import tiny_checkpoint
from .synthetic import make_smear

TARGET = {"mean": [200.0, 140.0, 134.0], "std": [32.0, 11.5, 11.0]}


def _in_domain(seed: int) -> np.ndarray:
    rng = np.random.default_rng(100 + seed)  # small lab-to-day variation: hue +-3 degrees, brightness +-3%
    return make_smear(
        n_single=5, n_pairs=1, seed=seed, hue_shift_deg=rng.uniform(-3, 3), brightness=rng.uniform(0.97, 1.03)
    ).rgb


def _stain_shifted(seed: int) -> np.ndarray:
    return make_smear(n_single=5, n_pairs=1, seed=seed, hue_shift_deg=35.0, saturation=0.6).rgb


def _rescaled(seed: int) -> np.ndarray:  # the same smear photographed at 0.4x: red cells ~16 px across
    return cv2.resize(_in_domain(seed), None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    path = tiny_checkpoint(tmp_path_factory.mktemp("dom") / "m.pt", stain=TARGET)
    predictor = Predictor(load_checkpoint(path), device=torch.device("cpu"), path=path)
    fit = [predictor.observe(_in_domain(s)) for s in range(8)]
    held = [predictor.observe(_in_domain(s)) for s in range(8, 14)]
    ref = fit_on_smears(
        [o.pooled for o in fit],
        [o.stats for o in fit],
        [o.pooled for o in held],
        [o.stats for o in held],
        fitted_on="synthetic in-domain smears",
    )
    return path, predictor, ref


def _assess(predictor, ref: DomainReference, rgb):
    o = predictor.observe(rgb)
    return ref.assess(pooled=o.pooled, stats=o.stats)[1]


def test_it_passes_in_domain_smears_and_flags_shifted_and_rescaled_ones(fitted):
    _, predictor, ref = fitted
    assert set(ref.thresholds) == {"cell_features", "smear_features", "stain", "scale", "focus", "joint_scale"}
    inside = [_assess(predictor, ref, _in_domain(s)) for s in range(20, 23)]
    shifted = [_assess(predictor, ref, _stain_shifted(s)) for s in range(20, 23)]
    rescaled = [_assess(predictor, ref, _rescaled(s)) for s in range(20, 23)]
    assert sum(d.in_domain for d in inside) >= 2
    assert all(not d.in_domain and "stain" in d.reasons for d in shifted)
    assert all(not d.in_domain and "scale" in d.reasons for d in rescaled)
    assert min(d.score for d in shifted + rescaled) > max(d.score for d in inside)


def test_it_calls_an_out_of_domain_smear_unvalidated_through_the_predictor(fitted, tmp_path):
    path, _, ref = fitted
    ck = load_checkpoint(path)
    out = tmp_path / "with_ref.pt"
    save_checkpoint(
        out,
        ck.model,
        config=ck.config,
        preprocessing=ck.preprocessing.with_(domain=ref.to_dict()),
        class_names=ck.class_names,
        version="0.0.0-dom",
    )
    predictor = Predictor.load(out)
    assert predictor.domain is not None and predictor.domain.thresholds == ref.thresholds
    result = predictor.analyze(_stain_shifted(30), with_heatmaps=False)
    assert result.domain is not None and not result.domain.in_domain
    assert result.summary.call == "unvalidated" and "domain_stain" in result.summary.flags
    assert all(c.domain is not None for c in result.cells)
    assert result.to_json()["domain"]["in_domain"] is False


def test_the_joint_scale_holds_the_any_check_flag_at_the_quantile_where_single_checks_do_not():
    # 200 held-out smears whose four checks are independent: each check at its own 99th percentile flags
    # about 4% of them; scaled jointly, the smear flag (any check out) fires on about 1%.
    rng = np.random.default_rng(0)
    n, c = 200, 4
    ref = DomainReference(
        feature_means=np.zeros((1, c)), feature_precision=np.eye(c), image_mean=np.zeros(8), image_std=np.ones(8)
    )
    pooled = [rng.normal(size=(5, c)) for _ in range(n)]
    stats = rng.normal(size=(n, 8))
    per_check = with_thresholds(
        ref, cell_pooled=np.concatenate(pooled), smear_pooled=pooled, smear_stats_rows=stats, joint=False
    )
    joint = with_thresholds(ref, cell_pooled=np.concatenate(pooled), smear_pooled=pooled, smear_stats_rows=stats)

    def flagged(r: DomainReference) -> float:
        return float(
            np.mean([not r.assess(pooled=p, stats=s)[1].in_domain for p, s in zip(pooled, stats, strict=True)])
        )

    assert joint.thresholds["joint_scale"] >= 1.0
    assert joint.thresholds["cell_features"] == per_check.thresholds["cell_features"]
    for key in ("smear_features", "stain", "scale", "focus"):
        assert joint.thresholds[key] == pytest.approx(per_check.thresholds[key] * joint.thresholds["joint_scale"])
    assert flagged(per_check) >= 0.02  # the Z_FLOOR keeps some image checks quiet, the feature check is not
    assert flagged(joint) <= 1 - QUANTILE + 0.005


def test_a_held_out_smear_without_cells_keeps_features_and_statistics_in_step():
    rng = np.random.default_rng(1)
    held = [rng.normal(size=(4, 3)) for _ in range(5)] + [np.zeros((0, 3))]
    ref = fit_on_smears(
        [rng.normal(size=(20, 3))], [np.zeros(8)] * 2, held, list(rng.normal(size=(6, 8))), fitted_on="x"
    )
    assert ref.thresholds["joint_scale"] >= 1.0
    with pytest.raises(ValueError, match="in step"):
        with_thresholds(ref, cell_pooled=np.concatenate(held), smear_pooled=held[:5], smear_stats_rows=np.zeros((6, 8)))


def test_it_refuses_to_fit_without_held_out_cells():
    with pytest.raises(ValueError, match="held-out"):
        fit_on_smears([np.ones((3, 4))], [np.zeros(8)], [], [], fitted_on="x")


def test_fitting_a_reference_refuses_a_checkpoint_that_does_not_name_its_data(tmp_path):
    from inference.training.fit_reference import checkpoint_split

    ck = load_checkpoint(tiny_checkpoint(tmp_path / "m.pt"))
    with pytest.raises(ValueError, match="cannot find its data"):
        checkpoint_split(ck, table=None)


def test_the_stored_reference_packs_its_precision_matrix_and_still_reads_the_old_lists():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 64))
    cov = np.cov(x, rowvar=False) + np.eye(64)
    ref = DomainReference(
        feature_means=rng.normal(size=(2, 64)),
        feature_precision=np.linalg.inv(cov),
        image_mean=np.zeros(8),
        image_std=np.ones(8),
        thresholds={"cell_features": 3.0},
    )
    stored = ref.to_dict()
    assert isinstance(stored["feature_precision"]["upper_float32"], bytes)
    assert len(stored["feature_precision"]["upper_float32"]) == 4 * 64 * 65 // 2  # the upper triangle, float32
    buf = io.BytesIO()
    torch.save(stored, buf)
    buf.seek(0)
    back = DomainReference.from_dict(torch.load(buf, weights_only=True))  # as load_checkpoint reads it
    assert np.allclose(back.feature_precision, ref.feature_precision, rtol=1e-6, atol=1e-7)
    assert np.allclose(back.feature_distance(x[:5]), ref.feature_distance(x[:5]), rtol=1e-5)
    old = {**stored, "feature_precision": ref.feature_precision.tolist()}  # checkpoints before the packing
    assert np.array_equal(DomainReference.from_dict(old).feature_precision, ref.feature_precision)
