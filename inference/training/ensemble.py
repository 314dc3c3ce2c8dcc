"""Seed ensembles and test-time augmentation on the leave-one-acquisition-out proxy (issue 13, item 4).

``python -m inference.training.ensemble MODEL.pt [MODEL.pt ...] [--held-out 1712x1368] --out OUT.json``

Each model is a checkpoint written by ``python -m inference.crossval cross-acq --save-model`` (trained without
the held-out acquisition). On the held-out acquisition's labelled cells, in one run, it scores:

* every model alone, without and with test-time augmentation (the four flips of the dihedral group that keep a
  cell upright or mirror it: identity, horizontal, vertical, both; logits averaged, then the model's temperature);
* the mean probability of all the models (the ensemble), without and with TTA.

Rows report accuracy, precision, recall, specificity, F1, MCC at the legacy 0.5 threshold and at each model's
stored operating point (the ensemble: at the mean of its members' thresholds, stated as such), and AUROC with a
95% interval from a bootstrap over smears (cells of one smear move together). Nothing here chooses anything:
which variant ships is decided on the training side and by the speed budget, this only measures.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ..models import load_checkpoint
from ..temperature import apply_temperature
from .crossval import METRIC_KEYS, _cells
from .data import CellDataset, idb1_cells
from .metrics import auroc, binary_metrics

FLIPS: tuple[tuple[int, ...], ...] = ((), (-1,), (-2,), (-2, -1))


def logits(model: torch.nn.Module, ds: CellDataset, *, tta: bool, batch_size: int = 64) -> np.ndarray:
    """Logits of every sample in order; with ``tta`` the mean over the four flips."""
    model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(ds), batch_size):
            x, _ = ds.batch(np.arange(start, min(start + batch_size, len(ds))))
            views = FLIPS if tta else FLIPS[:1]
            out.append(torch.stack([model(x.flip(d) if d else x).float() for d in views]).mean(0).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def auroc_interval(y: np.ndarray, p: np.ndarray, smears: np.ndarray, *, n: int = 1000, seed: int = 0) -> list[float]:
    """95% percentile interval of AUROC over bootstrap resamples of whole smears."""
    rng = np.random.default_rng(seed)
    ids = np.unique(smears)
    rows = {s: np.flatnonzero(smears == s) for s in ids}
    values = []
    for _ in range(n):
        idx = np.concatenate([rows[s] for s in rng.choice(ids, size=len(ids))])
        if 0 < y[idx].sum() < len(idx):
            values.append(auroc(y[idx], p[idx]))
    return [round(float(np.percentile(values, 2.5)), 4), round(float(np.percentile(values, 97.5)), 4)]


def row(name: str, y: np.ndarray, p: np.ndarray, smears: np.ndarray, threshold: float, passes: int) -> dict:
    legacy = binary_metrics(y, p)
    at_op = binary_metrics(y, p, threshold=threshold)
    return {
        "name": name,
        "forward_passes_per_cell": passes,
        "n": int(len(y)),
        "auroc": round(float(legacy["auroc"]), 4),
        "auroc_95ci_by_smear": auroc_interval(y, p, smears),
        "at_0.5": {k: round(float(legacy[k]), 4) for k in METRIC_KEYS},
        "operating_threshold": round(float(threshold), 4),
        "at_operating_point": {k: round(float(at_op[k]), 4) for k in METRIC_KEYS},
    }


def evaluate(paths: list[Path], held_out: str) -> dict:
    checkpoints = [load_checkpoint(p) for p in paths]
    for path, ck in zip(paths, checkpoints, strict=True):
        # written by crossval cross-acq --save-model (its first checkpoints said it as "other than 1712x1368")
        said = ck.extra.get("held_out") or str(ck.extra.get("trained_on", "")).partition("other than ")[2]
        if said != held_out:
            raise SystemExit(f"{path} does not record {held_out} as held out of its training: not a held-out test")
    rows, probs, probs_tta, thresholds = [], [], [], []
    y = smears = None
    for path, ck in zip(paths, checkpoints, strict=True):
        torch.manual_seed(0)
        prep = dict(ck.preprocessing)
        table = idb1_cells(size=int(prep["input_size"]), progress=False)
        tidx = np.flatnonzero((table.smear_size == held_out) & (table.label >= 0))
        y_m, s_m = table.label[tidx].astype(int), table.smear[tidx].astype(str)
        if y is None:
            y, smears = y_m, s_m
        elif not (np.array_equal(y, y_m) and np.array_equal(smears, s_m)):
            raise SystemExit(f"{path}: its input size gives other test cells; ensemble members must share them")
        ds = CellDataset(_cells(table, "scaled", tidx), prep, augment=None)
        threshold = ck.preprocessing.operating_point.cell_threshold
        thresholds.append(threshold)
        for tta, store in ((False, probs), (True, probs_tta)):
            p = apply_temperature(logits(ck.model, ds, tta=tta), ck.temperature)
            store.append(p)
            name = f"{path.stem} ({ck.arch}, {ck.version})" + (" + TTA" if tta else "")
            rows.append(row(name, y, p, smears, threshold, len(FLIPS) if tta else 1))
    assert y is not None and smears is not None
    if len(paths) > 1:
        t = float(np.mean(thresholds))
        rows.append(row(f"ensemble of {len(paths)} (mean p)", y, np.mean(probs, 0), smears, t, len(paths)))
        rows.append(
            row(f"ensemble of {len(paths)} (mean p) + TTA", y, np.mean(probs_tta, 0), smears, t, len(paths) * 4)
        )
    return {
        "protocol": f"leave-one-acquisition-out: held-out ALL-IDB1 {held_out} smears, labelled segmented cells",
        "n_test_cells": int(len(y)),
        "n_test_blasts": int(y.sum()),
        "n_test_smears": int(len(np.unique(smears))),
        "models": [str(p) for p in paths],
        "rows": rows,
    }


def markdown(result: dict) -> str:
    lines = [
        "| model | passes/cell | AUROC (95% CI by smear) | acc | prec | **recall** | spec | F1 | MCC | at threshold |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        m = r["at_operating_point"]
        lo, hi = r["auroc_95ci_by_smear"]
        lines.append(
            f"| {r['name']} | {r['forward_passes_per_cell']} | {r['auroc']:.3f} ({lo:.3f}-{hi:.3f}) | "
            + " | ".join(f"{100 * m[k]:.1f}" for k in ("accuracy", "precision", "recall", "specificity", "f1"))
            + f" | {m['mcc']:.3f} | {r['operating_threshold']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m inference.training.ensemble", description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--held-out", default="1712x1368", choices=["1712x1368", "2592x1944"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    result = evaluate(args.models, args.held_out)
    result["command"] = "python -m inference.training.ensemble " + " ".join(sys.argv[1:] if argv is None else argv)
    result["seconds"] = round(time.time() - t0, 1)
    result["machine"] = f"{platform.machine()}, torch {torch.__version__}, {args.threads} thread(s)"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
