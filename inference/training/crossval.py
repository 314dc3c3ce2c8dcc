"""Cross-validation protocols for the cell classifier: ``python -m inference.crossval PROTOCOL``.

Protocols (each writes one JSON under ``--out`` with per-fold rows, mean and std, and the command):

* ``idb2``: the seed paper's protocol. ALL-IDB2's 259 crops (``Im257_0`` = ``Im223_0`` dropped), k-fold
  stratified with the near-duplicate normal crops (Im222-227, Im256-260) in one group, so one fold.
* ``idb1``: the honest slide-level protocol. Cells found by our segmentation on ALL-IDB1 (``Im108_0`` dropped),
  folds grouped by smear (overlapping fields Im009-011 one group). Cell metrics on labelled cells (blast:
  holds an annotated blast centroid; normal: on a healthy smear or holding only an ``other`` centroid); the
  slide call (ALL if at least k cells have p >= the cell threshold) uses *every* cell found, with the
  threshold (cell sensitivity >= 0.95) and k chosen on the inner validation split of the training folds only
  (``inference.training.operating``). Also reported on the 2592x1944 smears alone.
* ``cross-acq``: train on cells of the 2592x1944 smears only, test on the 1712x1368 smears' cells (a
  different acquisition): cell metrics, AUROC the headline.

``--folds-only 0 1`` runs some folds of ``idb1`` or ``idb2`` (two processes share the cores better than one
process with two threads); ``python -m inference.crossval merge A.json B.json --out C.json`` joins such parts
into the result one run of every fold would have written (each part keeps its test cells' predictions for this).

Within every training fold an inner grouped 20% split does early stopping and temperature scaling; test
folds are touched once, by the final model. Nothing is tuned on them.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from ..models import DEFAULT_CONFIGS, CellClassifier, save_checkpoint
from ..operating import OperatingPoint
from ..preprocess import Preprocessing
from .calibrate import apply_temperature, expected_calibration_error
from .data import (
    ARCH_NORMALISATION,
    AUGMENTS,
    CLASS_NAMES,
    DEFAULT_PREPROCESSING,
    CellDataset,
    CellSample,
    CellTable,
    bccd_cells,
    idb1_cells,
    idb1_group,
    idb2_samples,
    stratified_group_folds,
    train_val_split,
)
from .metrics import binary_metrics, mean_std
from .operating import choose_operating_point
from .train import (
    FitResult,
    add_recipe_arguments,
    code_commit,
    fit,
    initial_model,
    load_teacher,
    predict_logits,
    seed_everything,
    stain_target,
)

METRIC_KEYS = ("accuracy", "precision", "recall", "specificity", "f1", "mcc", "auroc")
VARIANTS = {  # the ablation rows of the hybrid VGG
    "full": {"residual": True, "attention": True},
    "plain": {"residual": False, "attention": False},
    "residual": {"residual": True, "attention": False},
    "attention": {"residual": False, "attention": True},
}


def make_model(arch: str, variant: str) -> tuple[CellClassifier, dict]:
    config = DEFAULT_CONFIGS[arch]()
    if arch == "hybrid_vgg":
        config.update(VARIANTS[variant])
    return initial_model(arch, config), config


def train_one(
    samples: list[CellSample], args: argparse.Namespace, *, seed: int
) -> tuple[torch.nn.Module, float, dict, np.ndarray, FitResult]:
    """Fit on ``samples`` with an inner grouped validation split; returns model, T, preprocessing, val indices, fit."""
    prep = dict(DEFAULT_PREPROCESSING, input_size=args.input_size, **ARCH_NORMALISATION.get(args.arch, {}))
    if args.stain:
        prep["stain"] = stain_target(samples, getattr(args, "stain_statistic", "moments"))
    labels = [s.label for s in samples]
    val_fraction = getattr(args, "val_fraction", 0.2)
    if val_fraction > 0:
        tr, va = train_val_split(labels, [s.group for s in samples], val_fraction=val_fraction, seed=seed)
    else:  # every training smear trains: a fixed number of epochs, the last (averaged) weights, temperature 1
        tr, va = np.arange(len(samples)), np.zeros(0, int)
    distill = None
    if getattr(args, "teacher", None):
        distill = load_teacher(
            args.teacher, prep, sorted({samples[i].group for i in va}), weight=getattr(args, "distill_weight", 0.5)
        )
    seed_everything(seed)
    model, _ = make_model(args.arch, args.variant)
    res = fit(
        model,
        CellDataset([samples[i] for i in tr], prep, augment=AUGMENTS[args.aug], seed=seed),
        CellDataset([samples[i] for i in va], prep, augment=None) if len(va) else None,
        epochs=args.epochs,
        patience=args.patience,
        seed=seed,
        progress=args.progress,
        plateau=args.plateau,
        lr=getattr(args, "lr", 1e-3),
        ema_epochs=getattr(args, "ema", 0.0),
        head_epochs=getattr(args, "head_epochs", 0),
        distill=distill,
    )
    return res.model, res.temperature, prep, va, res


def score(model: nn.Module, temperature: float, prep: dict, samples: list[CellSample]) -> np.ndarray:
    """Calibrated p(blast) of samples (no augmentation)."""
    if not samples:
        return np.zeros(0)
    return apply_temperature(predict_logits(model, CellDataset(samples, prep, augment=None)), temperature)


def _row(fold: int, y: np.ndarray, p: np.ndarray, res: FitResult, temperature: float, seconds: float) -> dict:
    m = binary_metrics(y, p)
    return {
        "fold": fold,
        **{k: round(float(v), 4) if k != "n" else v for k, v in m.items()},
        "best_epoch": res.best_epoch,
        "epochs_run": len(res.history),
        "temperature": round(temperature, 3),
        "ece_val_before": round(res.ece_before, 4),
        "ece_val_after": round(res.ece_after, 4),
        "ece_test": round(expected_calibration_error(p, y), 4),  # held-out: reported, never fitted on
        "train_seconds": round(seconds, 1),
    }


# ------------------------------------------------------------------ ALL-IDB2


def run_idb2(args: argparse.Namespace) -> dict:
    samples = idb2_samples(size=args.input_size)
    folds = stratified_group_folds([s.label for s in samples], [s.group for s in samples], args.folds, seed=args.seed)
    rows, tests = [], []
    for f in _fold_indices(args, len(folds)):
        test_idx = folds[f]
        train = [s for i, s in enumerate(samples) if i not in set(test_idx.tolist())]
        test = [samples[i] for i in test_idx]
        t0 = time.time()
        model, temp, prep, va, res = train_one(train, args, seed=args.seed + f)
        p = score(model, temp, prep, test)
        y = np.array([s.label for s in test])
        rows.append(_row(f, y, p, res, temp, time.time() - t0))
        val = [train[i] for i in va]
        op = choose_operating_point(
            [s.label for s in val], score(model, temp, prep, val), chosen_on=f"inner validation split of fold {f}"
        )
        rows[-1]["at_operating_point"] = _at_operating_point(y, p, op)
        tests.append(_test_cells([s.source for s in test], y, p))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return _idb2_result(rows, _join_test_cells(tests))


def _idb2_result(rows: list[dict], test_cells: dict) -> dict:
    y, p = test_cells["label"], test_cells["p"]
    return {
        "folds": rows,
        "summary": mean_std(rows, (*METRIC_KEYS, "ece_test")),
        "pooled": {**binary_metrics(y, p), "ece": expected_calibration_error(p, y)},
        "test_cells": test_cells,
    }


def _fold_indices(args: argparse.Namespace, n_folds: int) -> list[int]:
    """The folds this run trains and tests: ``--folds-only``, else the first ``--max-folds`` (0: all)."""
    only = getattr(args, "folds_only", None)
    if only:
        bad = sorted(set(only) - set(range(n_folds)))
        if bad:
            raise SystemExit(f"--folds-only {bad}: there are folds 0-{n_folds - 1}")
        return sorted(set(only))
    return list(range(n_folds))[: getattr(args, "max_folds", 0) or n_folds]


def _test_cells(sources: Sequence[str] | np.ndarray, y: np.ndarray, p: np.ndarray) -> dict:
    """One fold's labelled test cells: their smear (or crop), label and calibrated p, for pooling and merging."""
    return {
        "source": [str(s) for s in sources],
        "label": [int(v) for v in y],
        "p": [round(float(v), 6) for v in p],
    }


def _join_test_cells(parts: list[dict]) -> dict:
    return {k: [v for part in parts for v in part[k]] for k in ("source", "label", "p")}


# ------------------------------------------------------------------ ALL-IDB1


def slide_calls(table: CellTable, p: np.ndarray, idx: np.ndarray, k: int, threshold: float) -> dict[str, int]:
    """Per smear: 1 (ALL) when at least ``k`` of its cells have p >= ``threshold``; no cell found calls 0."""
    calls = {}
    for smear in np.unique(table.smear[idx]):
        calls[str(smear)] = int((p[table.smear[idx] == smear] >= threshold).sum() >= k)
    return calls


def validation_operating_point(
    table: CellTable,
    kind: str,
    model: nn.Module,
    temperature: float,
    prep: dict,
    train: list[CellSample],
    val_idx: np.ndarray,
    *,
    what: str,
) -> OperatingPoint:
    """The operating point chosen on a training run's inner validation split only: the cell threshold on its
    labelled cells, the slide rule on its ALL-IDB1 smears (every cell found on them)."""
    val = [train[i] for i in val_idx]
    pv = score(model, temperature, prep, val)
    smears = sorted({s.source for s in val if s.source in table.smears})
    smear_p, smear_y = None, None
    if smears:
        vidx = np.flatnonzero(np.isin(table.smear, smears))
        pall = score(model, temperature, prep, _cells(table, kind, vidx))
        smear_p = {s: pall[table.smear[vidx] == s].tolist() for s in smears}
        smear_y = {s: int(table.smears[s]["label"]) for s in smears}
    return choose_operating_point(
        [s.label for s in val],
        pv,
        smear_p=smear_p,
        smear_y=smear_y,
        chosen_on=f"inner validation split of {what}: {len(val)} cells",
    )


def _at_operating_point(y: np.ndarray, p: np.ndarray, op: OperatingPoint) -> dict:
    m = binary_metrics(y, p, threshold=op.cell_threshold)
    return {
        "cell_threshold": round(op.cell_threshold, 4),
        "min_blasts": op.min_blasts,
        **{k: round(float(m[k]), 4) for k in METRIC_KEYS},
    }


def _slide_accuracy(truth: dict[str, dict], calls: dict[str, int], smears: list[str]) -> tuple[float, int]:
    """Fraction of ``smears`` whose call matches ``truth[smear]["label"]``; a smear without a call counts as 0."""
    if not smears:
        return float("nan"), 0
    right = sum(calls.get(s, 0) == truth[s]["label"] for s in smears)
    return right / len(smears), len(smears)


def _cells(table: CellTable, kind: str, idx: np.ndarray) -> list[CellSample]:
    return [
        CellSample(
            table.crops[kind][i],
            int(max(table.label[i], 0)),
            idb1_group(str(table.smear[i])),
            str(table.smear[i]),
            table.stats[str(table.smear[i])],
        )
        for i in idx
    ]


def _train_cells(table: CellTable, kind: str, train_smears: set[str], annotated: bool) -> list[CellSample]:
    mask = np.isin(table.smear, list(train_smears))
    samples = table.samples(kind, mask)
    if annotated:
        samples += table.annotated_samples(train_smears)
    return samples


def run_idb1(args: argparse.Namespace) -> dict:
    table = idb1_cells(size=args.input_size)
    names = sorted(table.smears)
    smear_labels = [table.smears[s]["label"] for s in names]
    # folds over smears, grouped by overlap; stratified by the smear's diagnosis
    folds = stratified_group_folds(smear_labels, [idb1_group(s) for s in names], args.folds, seed=args.seed)
    # BCCD's white cells (another lab, all normal) as extra negatives in every training fold; tests stay ALL-IDB1's
    other = bccd_cells(size=args.input_size, kind=args.crop) if args.bccd else []
    rows, tests, calls_all = [], [], {}
    for f in _fold_indices(args, len(folds)):
        test_smears = {names[i] for i in folds[f]}
        train_smears = set(names) - test_smears
        t0 = time.time()
        train = _train_cells(table, args.crop, train_smears, args.annotated) + other
        model, temp, prep, val_idx, res = train_one(train, args, seed=args.seed + f)
        # the operating point (cell threshold, then k) on the inner validation smears of the training folds
        op = validation_operating_point(table, args.crop, model, temp, prep, train, val_idx, what=f"fold {f}")
        k = op.min_blasts
        # test: every cell found on the test smears
        tidx = np.flatnonzero(np.isin(table.smear, list(test_smears)))
        pt = score(model, temp, prep, _cells(table, args.crop, tidx))
        labelled = table.label[tidx] >= 0
        y, p = table.label[tidx][labelled], pt[labelled]
        row = _row(f, y, p, res, temp, time.time() - t0)
        row["at_operating_point"] = _at_operating_point(y, p, op)
        calls = slide_calls(table, pt, tidx, k, op.cell_threshold)
        for s in test_smears:  # a smear where segmentation found nothing is called healthy
            calls.setdefault(s, 0)
        calls_all.update(calls)
        big = sorted(s for s in test_smears if table.smears[s]["size"] == "2592x1944")
        row["slide_k"] = k
        row["slide_accuracy"], row["n_slides"] = _slide_accuracy(table.smears, calls, sorted(test_smears))
        row["slide_accuracy_2592"], row["n_slides_2592"] = _slide_accuracy(table.smears, calls, big)
        m2592 = np.isin(table.smear[tidx][labelled], big)
        row["auroc_2592"] = round(binary_metrics(y[m2592], p[m2592])["auroc"], 4) if m2592.any() else float("nan")
        rows.append(row)
        tests.append(_test_cells(table.smear[tidx][labelled], y, p))
        print(json.dumps(row), file=sys.stderr, flush=True)
    cells = {
        "labelled": int((table.label >= 0).sum()),
        "blast": int((table.label == 1).sum()),
        "normal": int((table.label == 0).sum()),
        "unlabelled": int((table.label < 0).sum()),
        "annotated_extra": int(len(table.ann_label)),
    }
    smears = {s: {"label": int(table.smears[s]["label"]), "size": table.smears[s]["size"]} for s in sorted(calls_all)}
    return _idb1_result(rows, _join_test_cells(tests), calls_all, smears, cells)


def _idb1_result(rows: list[dict], test_cells: dict, calls: dict[str, int], smears: dict, cells: dict) -> dict:
    """The idb1 result from its folds' rows, labelled test cells and slide calls (``smears``: label and size of
    every test smear)."""
    y, p = test_cells["label"], test_cells["p"]
    big = [s for s in smears if smears[s]["size"] == "2592x1944"]
    return {
        "folds": rows,
        "summary": mean_std(rows, (*METRIC_KEYS, "ece_test", "slide_accuracy", "slide_accuracy_2592", "auroc_2592")),
        "pooled": {**binary_metrics(y, p), "ece": expected_calibration_error(p, y)},
        "pooled_slide_accuracy": _slide_accuracy(smears, calls, sorted(smears)),
        "pooled_slide_accuracy_2592": _slide_accuracy(smears, calls, big),
        "slide_calls": calls,
        "smears": smears,
        "cells": cells,
        "test_cells": test_cells,
    }


ACQUISITIONS = ("2592x1944", "1712x1368")  # ALL-IDB1's two cameras, by image size


def run_cross_acq(args: argparse.Namespace) -> dict:
    table = idb1_cells(size=args.input_size)
    # Leave one acquisition out: train on the other camera's smears, test once on the held-out one's.
    # (ALL-IDB1's one 1226x652 smear belongs to neither acquisition and stays out of both sides.)
    held_out = getattr(args, "held_out", "1712x1368")
    trained_on = ACQUISITIONS[1 - ACQUISITIONS.index(held_out)]
    big = {s for s, m in table.smears.items() if m["size"] == trained_on}
    small = {s for s, m in table.smears.items() if m["size"] == held_out}
    if getattr(args, "teacher", None):
        from ..models import load_checkpoint

        if load_checkpoint(args.teacher).extra.get("held_out") != held_out:
            raise SystemExit(f"--teacher {args.teacher}: not a cross-acq model that held out the {held_out} smears")
    t0 = time.time()
    train = _train_cells(table, args.crop, big, args.annotated)
    if args.bccd:
        train += bccd_cells(size=args.input_size, kind=args.crop)
    model, temp, prep, val, res = train_one(train, args, seed=args.seed)
    tidx = np.flatnonzero(np.isin(table.smear, list(small)) & (table.label >= 0))
    p = score(model, temp, prep, _cells(table, args.crop, tidx))
    row = _row(0, table.label[tidx], p, res, temp, time.time() - t0)
    row["n_train"] = len(train)
    op = validation_operating_point(table, args.crop, model, temp, prep, train, val, what="cross-acq training")
    row["at_operating_point"] = _at_operating_point(table.label[tidx], p, op)
    if getattr(args, "save_model", None):  # the domain-check and lab-calibration measurements reuse this model
        _, config = make_model(args.arch, args.variant)
        val_groups = sorted({train[i].group for i in val})
        save_checkpoint(
            args.save_model,
            model,
            arch=args.arch,
            config=config,
            preprocessing=Preprocessing.coerce(prep).with_(operating_point=op),
            class_names=CLASS_NAMES,
            version="xacq-" + args.aug,
            temperature=temp,
            extra={
                "trained_on": f"ALL-IDB1 {trained_on} smears",
                "held_out": held_out,
                "val_groups": val_groups,
                "command": args.command,
                "code_commit": code_commit(),
            },
        )
    return {"folds": [row], "summary": {k: {"mean": row[k], "std": 0.0} for k in (*METRIC_KEYS, "ece_test")}}


PROTOCOLS = {"idb2": run_idb2, "idb1": run_idb1, "cross-acq": run_cross_acq}


# settings that may differ between the parts of one run (which folds each ran, and how many threads)
PART_SETTINGS = ("folds_only", "max_folds", "threads")


def merge(paths: list[Path]) -> dict:
    """Join runs of disjoint folds of one idb1 or idb2 protocol (same command but ``--folds-only``) into the
    result one run of all of them gives: folds in order, mean ± std over them, pooled metrics over their test
    cells, and (idb1) the slide calls."""
    parts = [json.loads(Path(p).read_text()) for p in paths]
    first = parts[0]
    if first["protocol"] not in ("idb1", "idb2"):
        raise SystemExit(f"merge joins idb1 or idb2 runs, not {first['protocol']}")
    same = {k: v for k, v in first["settings"].items() if k not in PART_SETTINGS}
    for path, r in zip(paths, parts, strict=True):
        if "test_cells" not in r:
            raise SystemExit(f"{path}: no test_cells (written before merge existed); rerun it")
        theirs = {k: v for k, v in r["settings"].items() if k not in PART_SETTINGS}
        if r["protocol"] != first["protocol"] or theirs != same:
            diff = sorted(k for k in set(theirs) | set(same) if theirs.get(k) != same.get(k))
            raise SystemExit(f"{path} is not a part of the same run as {paths[0]}: {diff or ['protocol']} differ")
    folds = [f["fold"] for r in parts for f in r["folds"]]
    if len(folds) != len(set(folds)):
        raise SystemExit(f"folds repeated across the parts: {sorted(folds)}")
    order = sorted(range(len(parts)), key=lambda i: min(f["fold"] for f in parts[i]["folds"]))
    parts = [parts[i] for i in order]
    rows = sorted((f for r in parts for f in r["folds"]), key=lambda f: f["fold"])
    tests = _join_test_cells([r["test_cells"] for r in parts])
    if first["protocol"] == "idb2":
        result = _idb2_result(rows, tests)
    else:
        calls = {s: c for r in parts for s, c in r["slide_calls"].items()}
        smears = {s: m for r in parts for s, m in r["smears"].items()}
        result = _idb1_result(rows, tests, calls, smears, first["cells"])
    return {
        "protocol": first["protocol"],
        "command": " && ".join(r["command"] for r in parts),
        "settings": {**first["settings"], "folds_only": folds and sorted(folds)},
        "machine": first["machine"],
        "wall_seconds": round(sum(r["wall_seconds"] for r in parts), 1),
        "merged_from": [str(p) for p in paths],
        **result,
    }


def collect(paths: list[Path]) -> dict:
    """Merge result files into one ``{name: result}`` dict (name = file stem), per-cell calls and scores dropped."""
    out = {}
    for p in sorted(paths):
        r = json.loads(Path(p).read_text())
        for key in ("slide_calls", "smears", "test_cells"):
            r.pop(key, None)
        out[Path(p).stem] = r
    return out


def _pct(summary: dict, key: str) -> str:
    v = summary.get(key)
    if v is None:
        return "-"
    mean, std = v["mean"], v["std"]
    if key in ("mcc", "auroc", "auroc_2592", "ece_test"):
        return f"{mean:.3f} ± {std:.3f}" if std else f"{mean:.3f}"
    return f"{100 * mean:.1f} ± {100 * std:.1f}" if std else f"{100 * mean:.1f}"


def markdown_table(collected: dict) -> str:
    """One row per result file: mean ± std over folds (percent, MCC/AUROC as fractions)."""
    keys = (
        "accuracy",
        "precision",
        "recall",
        "specificity",
        "f1",
        "mcc",
        "auroc",
        "ece_test",
        "slide_accuracy",
        "slide_accuracy_2592",
    )
    lines = ["| run | protocol | folds | " + " | ".join(keys) + " |", "|" + "---|" * (len(keys) + 3)]
    runs = {name: r for name, r in collected.items() if "protocol" in r}  # e.g. bench output has none
    for name, r in runs.items():
        n = len(r["folds"])
        lines.append(f"| {name} | {r['protocol']} | {n} | " + " | ".join(_pct(r["summary"], k) for k in keys) + " |")
    # runs cut short (--max-folds) are compared with the full runs on the same first folds
    lengths = {len(r["folds"]) for r in runs.values() if r["protocol"] == "idb2"}
    short = {n for n in lengths if 0 < n < max(lengths)}
    for n in sorted(short):
        lines += [
            "",
            f"First {n} folds of each idb2 run (same folds, same seeds):",
            "",
            "| run | accuracy | mcc | auroc |",
            "|---|---|---|---|",
        ]
        for name, r in runs.items():
            if r["protocol"] == "idb2" and len(r["folds"]) >= n:
                sub = mean_std(r["folds"][:n], ("accuracy", "mcc", "auroc"))
                lines.append(f"| {name} | " + " | ".join(_pct(sub, k) for k in ("accuracy", "mcc", "auroc")) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["collect"], ["merge"]):  # python -m inference.crossval collect|merge var/results/*.json --out F
        ap = argparse.ArgumentParser(prog=f"python -m inference.crossval {argv[0]}")
        ap.add_argument("files", nargs="+", type=Path)
        ap.add_argument("--out", type=Path, required=True)
        a = ap.parse_args(argv[1:])
        joined = collect(a.files) if argv[0] == "collect" else merge(a.files)
        a.out.write_text(json.dumps(joined, indent=1, default=float) + "\n")
        if argv[0] == "collect":
            print(markdown_table(joined))
        else:
            print(json.dumps({"protocol": joined["protocol"], "summary": joined["summary"]}, default=float))
        return 0
    ap = argparse.ArgumentParser(prog="python -m inference.crossval", description=__doc__.split("\n\n")[0])
    ap.add_argument("protocol", choices=sorted(PROTOCOLS))
    ap.add_argument("--variant", default="full", choices=sorted(VARIANTS))
    add_recipe_arguments(ap)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--max-folds", type=int, default=0, help="run only the first N folds (0: all)")
    ap.add_argument("--folds-only", type=int, nargs="+", help="idb1/idb2: run only these folds (join with merge)")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument(
        "--val-fraction",
        type=float,
        default=0.2,
        help="inner validation share of the training smears; 0: none (fixed --epochs, legacy operating point)",
    )
    ap.add_argument("--patience", type=int, default=8)
    ap.add_argument("--progress", action="store_true")
    ap.add_argument("--out", type=Path, help="write the result JSON here")
    ap.add_argument(
        "--held-out",
        default="1712x1368",
        choices=ACQUISITIONS,
        help="cross-acq: the acquisition (image size) left out of training and tested on",
    )
    ap.add_argument("--save-model", type=Path, help="cross-acq: also write the trained model as a checkpoint")
    args = ap.parse_args(argv)
    if args.teacher and args.protocol != "cross-acq":  # one teacher for k folds would have seen every test fold
        raise SystemExit("--teacher: only cross-acq trains once, on one training set a teacher can share")
    args.command = "python -m inference.crossval " + " ".join(argv or sys.argv[1:])
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)  # augmentation runs in OpenCV: without this it spawns a thread per core
    t0 = time.time()
    result = PROTOCOLS[args.protocol](args)
    result = {
        "protocol": args.protocol,
        "command": "python -m inference.crossval " + " ".join(argv),
        "settings": {k: v for k, v in vars(args).items() if k not in ("out", "progress", "save_model", "command")},
        "machine": f"{platform.machine()} {platform.processor() or ''} torch {torch.__version__}, "
        f"{args.threads} thread(s) on a shared 2-core VM".strip(),
        "wall_seconds": round(time.time() - t0, 1),
        **result,
    }
    text = json.dumps(result, indent=1, default=float)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(json.dumps({"protocol": args.protocol, "summary": result["summary"]}, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
