"""The adaptation service itself (no database): refusals, the split by case, scoring and the gate, a real fine-tune."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from alllab.analysis import adaptation
from alllab.analysis.adaptation_rules import AdaptationRefused, Requirements, adaptation_shortfall
from inference.models import CheckpointError, load_checkpoint
from inference.predict import DEFAULT_WEIGHTS
from tests.alllab.labmodels.cells import cell_crop


def _cells(n_cases: int, per_case: int = 6) -> list[adaptation.ReviewedCell]:
    cells = []
    for case in range(n_cases):
        for i in range(per_case):
            blast = int(case % 2 == 0 and i % 2 == 0)  # even cases hold blasts and normals, odd ones only normals
            cells.append(adaptation.ReviewedCell(cell_id=case * 100 + i, case_id=case, label=blast))
    return cells


def _load(cells):
    return [replace(c, crop=cell_crop(blast=bool(c.label), seed=int(c.cell_id))) for c in cells]


def test_it_says_how_many_more_cases_and_cells_are_needed():
    missing = adaptation_shortfall(
        labels=[1, 1, 0], case_ids=[1, 1, 2], requirements=Requirements(min_cases=4, min_cells_per_class=5)
    )
    assert missing == [
        "2 more case(s) with reviewed white cells (have 2, need 4)",
        "3 more reviewed blast cell(s) (have 2, need 5)",
        "4 more reviewed normal cell(s) (have 1, need 5)",
    ]


def test_it_splits_by_case_with_both_classes_on_both_sides():
    cells = _cells(9)
    train, held = adaptation.split_by_case(
        labels=[c.label for c in cells], case_ids=[c.case_id for c in cells], heldout_fraction=1 / 3
    )
    train_cases = {cells[i].case_id for i in train}
    held_cases = {cells[i].case_id for i in held}
    assert train_cases and held_cases and not train_cases & held_cases
    assert len(train) + len(held) == len(cells)
    for side in (train, held):
        assert {cells[i].label for i in side} == {0, 1}


def test_it_refuses_a_split_when_all_blasts_are_in_one_case():
    labels = [1, 1, 1, 0, 0, 0, 0, 0, 0]
    cases = [0, 0, 0, 1, 1, 2, 2, 3, 3]
    with pytest.raises(AdaptationRefused, match="cannot be split by case"):
        adaptation.split_by_case(labels=labels, case_ids=cases, heldout_fraction=1 / 3)


def test_it_compares_base_and_candidate_with_case_bootstrap_intervals():
    rng = np.random.default_rng(0)
    y = np.array([1, 0] * 30)
    cases = np.repeat(np.arange(12), 5)
    p_base = np.clip(0.5 + (y - 0.5) * 0.2 + rng.normal(0, 0.3, len(y)), 0, 1)
    p_cand = np.clip(0.5 + (y - 0.5) * 0.8 + rng.normal(0, 0.1, len(y)), 0, 1)
    out = adaptation.compare_heldout(
        labels=y, case_ids=cases, p_base=p_base, p_candidate=p_cand, threshold_base=0.5, threshold_candidate=0.5
    )
    assert out["candidate"]["auroc"] > out["base"]["auroc"]
    lo, hi = out["candidate"]["auroc_ci95"]
    assert lo <= out["candidate"]["auroc"] <= hi
    assert out["difference"]["auroc"] == pytest.approx(out["candidate"]["auroc"] - out["base"]["auroc"])
    assert out["n_cases"] == 12 and out["n_cells"] == 60
    verdict = adaptation.gate(out)
    assert verdict["passed"] and [r["metric"] for r in verdict["rules"]] == ["auroc", "sensitivity"]
    worse = adaptation.gate({**out, "candidate": {**out["candidate"], "sensitivity": out["base"]["sensitivity"] - 0.1}})
    assert not worse["passed"]


def test_it_refuses_a_base_checkpoint_that_does_not_match_its_sha256(tmp_path):
    cells = _load(_cells(2))
    with pytest.raises(CheckpointError, match="not the registered"):
        adaptation.score(checkpoint_path=DEFAULT_WEIGHTS, cells=cells, expect_sha256="0" * 64)


def test_it_fine_tunes_and_scores_both_models_on_held_out_cases(tmp_path):
    cells = _cells(9)
    seen = []
    out = adaptation.adapt(
        cells=cells,
        load_crops=_load,
        base_path=DEFAULT_WEIGHTS,
        base_sha256=load_checkpoint(DEFAULT_WEIGHTS).sha256,
        out_path=tmp_path / "lab.pt",
        version="0.0.0+test.1",
        requirements=Requirements(min_cases=4, min_cells_per_class=5),
        epochs=2,
        patience=2,
        progress=lambda stage, fraction, row: seen.append((stage, row)),
    )
    ck = load_checkpoint(tmp_path / "lab.pt")
    assert ck.sha256 == out.sha256 and ck.version == "0.0.0+test.1"
    assert ck.extra["base_sha256"] == load_checkpoint(DEFAULT_WEIGHTS).sha256
    assert not set(out.split["train_case_ids"]) & set(out.split["heldout_case_ids"])
    assert len(out.split["train_cell_ids"]) + len(out.split["heldout_cell_ids"]) == len(cells)
    for side in ("base", "candidate"):
        assert 0.0 <= out.evaluation[side]["auroc"] <= 1.0
        assert not math.isnan(out.evaluation[side]["sensitivity"])
    assert [row["epoch"] for stage, row in seen if row] == [1, 2]
    assert "passed" in out.evaluation["gate"]
    # No unlabelled smears given: fine-tuned from the base as it is, and the candidate says so.
    assert out.evaluation["calibration"] == {"applied": False, "detail": "not applied: no unlabelled smears given"}
    assert ck.extra["label_free_calibration"] == out.evaluation["calibration"]


def test_it_reads_the_operating_point_the_predictor_applies(tmp_path):
    from inference.operating import OperatingPoint
    from inference.predict import Predictor

    ck = load_checkpoint(DEFAULT_WEIGHTS)
    assert adaptation.operating_point(ck) == Predictor.load(DEFAULT_WEIGHTS).operating_point.cell_threshold
    strict = replace(ck, preprocessing=ck.preprocessing.with_(operating_point=OperatingPoint(cell_threshold=0.83)))
    assert adaptation.operating_point(strict) == 0.83


def _adapt_with_smears(tmp_path, smears):
    seen = []
    out = adaptation.adapt(
        cells=_cells(9),
        load_crops=_load,
        base_path=DEFAULT_WEIGHTS,
        base_sha256=None,
        out_path=tmp_path / "lab.pt",
        version="x",
        requirements=Requirements(min_cases=4, min_cells_per_class=5),
        epochs=1,
        patience=1,
        progress=lambda stage, fraction, row: seen.append(stage),
        unlabelled_smears=smears,
        extra={"lab": "north"},
    )
    return out, seen


def test_it_calibrates_on_unlabelled_smears_outside_the_held_out_cases_before_fine_tuning(tmp_path):
    from tests.alllab.smear import smear_rgb

    excluded = []

    def smears(exclude_case_ids):
        excluded.append(set(exclude_case_ids))
        return (smear_rgb(seed=s, n_white=12) for s in range(4))

    out, seen = _adapt_with_smears(tmp_path, smears)
    assert excluded == [set(out.split["heldout_case_ids"])]  # the held-out cases are never calibrated on
    assert seen.index("calibrating") < seen.index("training")
    assert out.evaluation["calibration"]["applied"] is True, out.evaluation["calibration"]
    candidate = load_checkpoint(tmp_path / "lab.pt")
    calibrated = load_checkpoint(tmp_path / "lab-calibrated.pt")
    # Fine-tuned from the engine's calibrated base, whose provenance it carries; the base scored is the original.
    assert candidate.extra["base_sha256"] == calibrated.sha256 != load_checkpoint(DEFAULT_WEIGHTS).sha256
    assert len(candidate.extra["calibration"]["smears"]) == 4 and candidate.extra["calibration"]["lab"] == "north"


def test_it_fine_tunes_without_calibration_when_the_engine_finds_too_few_smears(tmp_path):
    from tests.alllab.smear import smear_rgb

    out, _ = _adapt_with_smears(tmp_path, lambda exclude: [smear_rgb(seed=0, n_white=12)])
    assert out.evaluation["calibration"]["applied"] is False
    assert "smears" in out.evaluation["calibration"]["detail"]  # the engine's reason, kept in the evaluation
    assert load_checkpoint(tmp_path / "lab.pt").extra["base_sha256"] == load_checkpoint(DEFAULT_WEIGHTS).sha256


def test_the_candidates_operating_point_is_the_engines_rule_on_validation_cells():
    from inference.operating import OperatingPoint
    from inference.training.operating import cell_threshold_for_sensitivity

    rng = np.random.default_rng(1)
    y = np.array([1] * 40 + [0] * 60)
    p = np.clip(np.where(y == 1, 0.75, 0.3) + rng.normal(0, 0.15, len(y)), 0, 1)
    cases = np.repeat(np.arange(10), 10)  # cases 0-3 hold the blasts
    base = OperatingPoint(cell_threshold=0.5, min_blasts=3, chosen_on="base's")
    op = adaptation.candidate_operating_point(labels=y, p=p, case_ids=cases, case_labels=None, base=base)
    t, sens, spec = cell_threshold_for_sensitivity(y, p, target=0.95)
    assert (op.cell_threshold, op.val_sensitivity, op.val_specificity) == (t, round(sens, 4), round(spec, 4))
    assert sens >= 0.95 and op.cell_threshold != base.cell_threshold
    assert op.min_blasts == 1 and "slide rule not chosen" in op.chosen_on  # no diagnoses: the engine's one blast
    # With the cases' diagnoses the slide rule is chosen on them: healthy cases hold a few cells above any threshold
    # that keeps 95% of blasts, so one blast is not the most specific rule reaching the target.
    p2 = p.copy()
    for case in range(4, 10):
        p2[case * 10] = 0.99
    labels = {c: int(c < 4) for c in range(10)}
    op2 = adaptation.candidate_operating_point(labels=y, p=p2, case_ids=cases, case_labels=labels, base=base)
    assert op2.min_blasts > 1 and "slide rule on 10 validation smears" in op2.chosen_on
    # Diagnoses for only some cases: no slide rule from a part of them.
    partial = adaptation.candidate_operating_point(labels=y, p=p2, case_ids=cases, case_labels={0: 1, 5: 0}, base=base)
    assert partial.min_blasts == 1
    # No blast in the validation split: the base's point is kept, and it says so.
    kept = adaptation.candidate_operating_point(
        labels=np.zeros(10, int), p=p[:10], case_ids=cases[:10], case_labels=None, base=base
    )
    assert (kept.cell_threshold, kept.min_blasts) == (0.5, 3) and kept.chosen_on.startswith("kept from the base")


def test_the_candidate_is_scored_at_its_own_point_chosen_on_training_cases_only(tmp_path, monkeypatch):
    seen = {}
    engine_rule = adaptation.candidate_operating_point

    def spy(**kw):
        seen.update(kw)
        return engine_rule(**kw)

    monkeypatch.setattr(adaptation, "candidate_operating_point", spy)
    cells = _cells(9)
    labels = {c: int(c % 2 == 0) for c in range(9)}
    out = adaptation.adapt(
        cells=cells,
        load_crops=_load,
        base_path=DEFAULT_WEIGHTS,
        base_sha256=None,
        out_path=tmp_path / "lab.pt",
        version="x",
        requirements=Requirements(min_cases=4, min_cells_per_class=5),
        epochs=2,
        patience=2,
        case_labels=labels,
    )
    held = set(out.split["heldout_case_ids"])
    assert set(seen["case_ids"]) <= set(out.split["train_case_ids"])  # chosen on train-side cases only
    assert not held & set(seen["case_labels"])  # the held-out cases' diagnoses never reach the choice
    assert len(seen["labels"]) == out.evaluation["training"]["n_val"]
    stored = load_checkpoint(tmp_path / "lab.pt").preprocessing.operating_point
    base = load_checkpoint(DEFAULT_WEIGHTS).preprocessing.operating_point
    assert stored.chosen_on.startswith("train-side validation split")
    assert out.evaluation["operating_points"] == {"base": base.to_dict(), "candidate": stored.to_dict()}
    # Each model on the held-out cells at its own stored point.
    assert out.evaluation["candidate"]["threshold"] == stored.cell_threshold
    assert out.evaluation["base"]["threshold"] == base.cell_threshold
