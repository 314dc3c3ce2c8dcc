"""The domain measurement's counting (``inference.training.eval_domain``) on hand-made observations: flag rates
by smear and cell, and calls with and without the check against the bare slide rule."""

import numpy as np

from inference.domain import DomainReference
from inference.operating import OperatingPoint
from inference.predict import Observation
from inference.training.eval_domain import _calls, _flags, _leave_one_out
from inference.types import Quality


def _ref() -> DomainReference:
    return DomainReference(
        feature_means=np.zeros((1, 2)),
        feature_precision=np.eye(2),
        image_mean=np.zeros(8),
        image_std=np.ones(8),
        thresholds={"cell_features": 2.0, "smear_features": 2.0, "stain": 3.0, "scale": 3.0, "focus": 3.0},
    )


def _obs(p, shift=0.0, stain=0.0) -> Observation:
    n = len(p)
    stats = np.zeros(8)
    stats[0] = stain
    return Observation(
        segmentation=type("Seg", (), {"quality": Quality(focus=100.0, stain={})})(),
        crops=[np.zeros((4, 4, 3), np.uint8)] * n,
        lab={},
        stats=stats,
        logits=np.zeros(n),
        pooled=np.full((n, 2), shift),
        p_blast=np.asarray(p, float),
    )


def test_it_counts_flagged_smears_cells_and_reasons():
    observed = {"in": _obs([0.1] * 4), "stain": _obs([0.1] * 4, stain=5.0), "feat": _obs([0.1] * 2, shift=3.0)}
    r = _flags(_ref(), observed, ["in", "stain", "feat"])
    assert (r["n_smears"], r["flagged_smears"], r["n_cells"]) == (3, 2, 10)
    assert r["reasons"] == {"stain": 1, "features": 1} and r["flagged_cell_fraction"] == 0.6
    assert r["per_smear"]["in"]["reasons"] == []


def test_it_compares_calls_with_and_without_the_check_and_scores_the_slide_rule():
    op = OperatingPoint(cell_threshold=0.6, min_blasts=2)
    observed = {
        "all_in": _obs([0.9, 0.8] + [0.1] * 100),  # ALL, in domain, two blasts: suspicious
        "all_out": _obs([0.9] + [0.1] * 100, stain=5.0),  # ALL, out of domain, one blast: rule misses it
        "ok": _obs([0.1] * 120),  # healthy, in domain: negative
    }
    labels = {"all_in": 1, "all_out": 1, "ok": 0}
    r = _calls(op, _ref(), observed, labels, list(observed))
    assert r["calls_with_domain_check"] == {"suspicious": 1, "unvalidated": 1, "negative": 1}
    assert r["calls_without_domain_check"] == {"suspicious": 1, "negative": 2}
    assert r["calls_on_ALL_smears"] == {"suspicious": 1, "unvalidated": 1}
    assert r["slide_rule"] == {
        "tp": 1, "fn": 1, "tn": 1, "fp": 0, "accuracy": 0.6667, "sensitivity": 0.5, "specificity": 1.0
    }  # fmt: skip


def test_leave_one_out_judges_each_smear_by_thresholds_set_on_the_others():
    # nine ordinary smears and one whose stain sits 5 sd out: judged by the other nine (floor 3 sd) it is flagged;
    # each ordinary one is judged by thresholds that include the odd one's 5 sd, and passes
    observed = {f"s{i}": _obs([0.1] * 3, shift=0.1 * (i % 3)) for i in range(9)}
    observed["odd"] = _obs([0.1] * 3, stain=5.0)
    r = _leave_one_out(_ref(), observed, sorted(observed))
    assert (r["n_smears"], r["flagged_smears"], r["flagged"]) == (10, 1, ["odd"])
    assert r["reasons"] == {"stain": 1}
    low, high = r["wilson_95"]
    assert low < 0.1 < high


def test_thresholds_on_a_subset_equal_a_fresh_fit_with_that_subset_held_out():
    from inference.domain import fit_on_smears
    from inference.training.eval_domain import _thresholds_on

    rng = np.random.default_rng(0)
    train_pooled = [rng.normal(0, 1, (30, 2)), rng.normal(0.5, 1, (30, 2))]
    train_labels = [np.zeros(30), np.ones(30)]
    train_stats = [rng.normal(0, 1, 8) for _ in range(2)]
    observed = {}
    for i in range(6):
        o = _obs([0.1] * 5, shift=float(rng.normal(0, 0.5)), stain=float(rng.normal(0, 1)))
        observed[f"v{i}"] = Observation(**{**o.__dict__, "stats": rng.normal(0, 1, 8)})

    def fit(held: list[str]):
        return fit_on_smears(
            train_pooled,
            train_stats,
            [observed[s].pooled for s in held],
            [observed[s].stats for s in held],
            fit_labels=train_labels,
            fitted_on="synthetic",
        )

    every = fit(sorted(observed))
    half = ["v0", "v2", "v5"]
    assert _thresholds_on(every, observed, half, note="half").thresholds == fit(half).thresholds
    assert _thresholds_on(every, observed, half, note="half").thresholds != every.thresholds
