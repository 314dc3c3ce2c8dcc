"""``crossval --folds-only`` parts joined by ``crossval merge`` give what one run of every fold gives."""

import argparse
import json

import numpy as np
import pytest

from inference.training import crossval

SETTINGS = {"protocol": "idb1", "arch": "efficientnet_lite0", "seed": 0, "folds": 4, "threads": 1}


def _fold(f: int, rng: np.random.Generator) -> tuple[dict, dict, dict, dict]:
    """One synthetic idb1 fold: its row, labelled test cells, slide calls and smear truth."""
    smears = [f"Im{10 * f + i:03d}_{i % 2}" for i in range(3)]
    y = rng.integers(0, 2, 12)
    p = np.clip(0.6 * y + rng.normal(0.2, 0.25, 12), 0, 1)
    src = [smears[i % 3] for i in range(12)]
    row = {"fold": f, "accuracy": float(rng.uniform(0.8, 1)), "auroc": float(rng.uniform(0.9, 1)), "ece_test": 0.05}
    for k in ("precision", "recall", "specificity", "f1", "mcc", "slide_accuracy", "slide_accuracy_2592"):
        row[k] = float(rng.uniform(0.7, 1))
    row["auroc_2592"] = row["auroc"]
    truth = {s: {"label": i % 2, "size": "2592x1944" if i else "1712x1368"} for i, s in enumerate(smears)}
    calls = {s: int(rng.integers(0, 2)) for s in smears}
    return row, crossval._test_cells(src, y, p), calls, truth


def _part(path, folds: list, settings: dict) -> None:
    rows = [r for r, *_ in folds]
    calls = {s: c for _, _, cs, _ in folds for s, c in cs.items()}
    truth = {s: t for *_, ts in folds for s, t in ts.items()}
    result = crossval._idb1_result(rows, crossval._join_test_cells([t for _, t, _, _ in folds]), calls, truth, {})
    body = {"protocol": "idb1", "command": f"crossval part {path.name}", "settings": settings, "machine": "m"}
    path.write_text(json.dumps({**body, "wall_seconds": 10.0, **result}, default=float))


def test_merged_parts_equal_one_run_of_all_folds(tmp_path):
    rng = np.random.default_rng(3)
    folds = [_fold(f, rng) for f in range(4)]
    _part(tmp_path / "all.json", folds, SETTINGS)
    _part(tmp_path / "a.json", [folds[0], folds[2]], {**SETTINGS, "folds_only": [0, 2]})
    _part(tmp_path / "b.json", [folds[1], folds[3]], {**SETTINGS, "folds_only": [1, 3], "threads": 2})
    whole = json.loads((tmp_path / "all.json").read_text())
    merged = crossval.merge([tmp_path / "b.json", tmp_path / "a.json"])  # order of the files does not matter
    assert [r["fold"] for r in merged["folds"]] == [0, 1, 2, 3]
    assert merged["summary"].keys() == whole["summary"].keys()
    for key, stats in whole["summary"].items():
        assert merged["summary"][key] == pytest.approx(stats), key
    assert merged["pooled"] == pytest.approx(whole["pooled"])
    assert merged["pooled_slide_accuracy"] == pytest.approx(whole["pooled_slide_accuracy"])
    assert merged["pooled_slide_accuracy_2592"] == pytest.approx(whole["pooled_slide_accuracy_2592"])
    assert merged["slide_calls"] == whole["slide_calls"]
    assert merged["settings"]["folds_only"] == [0, 1, 2, 3]
    assert merged["wall_seconds"] == 20.0


def test_merge_refuses_parts_of_different_runs_or_repeated_folds(tmp_path):
    rng = np.random.default_rng(4)
    folds = [_fold(f, rng) for f in range(3)]
    _part(tmp_path / "a.json", folds[:1], {**SETTINGS, "folds_only": [0]})
    _part(tmp_path / "b.json", folds[1:2], {**SETTINGS, "folds_only": [1], "seed": 1})
    _part(tmp_path / "c.json", folds[:2], {**SETTINGS, "folds_only": [0, 1]})
    with pytest.raises(SystemExit, match="seed"):
        crossval.merge([tmp_path / "a.json", tmp_path / "b.json"])
    with pytest.raises(SystemExit, match="repeated"):
        crossval.merge([tmp_path / "a.json", tmp_path / "c.json"])


def test_fold_selection():
    pick = crossval._fold_indices
    assert pick(argparse.Namespace(folds_only=None, max_folds=0), 5) == [0, 1, 2, 3, 4]
    assert pick(argparse.Namespace(folds_only=None, max_folds=2), 5) == [0, 1]
    assert pick(argparse.Namespace(folds_only=[3, 1, 3], max_folds=0), 5) == [1, 3]
    with pytest.raises(SystemExit, match="0-4"):
        pick(argparse.Namespace(folds_only=[5], max_folds=0), 5)
