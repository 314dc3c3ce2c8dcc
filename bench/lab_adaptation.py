"""Simulate a new lab adapting its model: ``python bench/lab_adaptation.py --base CKPT``.

The "new lab" is ALL-IDB1's 1712x1368 smears (another camera and magnification than the 2592x1944 smears), and the
base model must have been trained without them, e.g.::

    python -m inference.train --data idb1-2592 --annotated --stain --out var/lab_adaptation/base.pt

Cells are the ones our segmentation finds on those smears, labelled from the annotated blast centroids (the same
table ``inference.train --data idb1`` uses; cells of ALL smears without an annotation are left out). For each number
of reviewed smears (10, 20, 30 by default) a seeded draw of smears is "reviewed": their cells go through the same
service the app's training task calls (``alllab.analysis.adaptation.adapt``: split by smear into train and held-out,
label-free calibration on the lab's unlabelled smears, fine-tune with early stopping, choose the candidate's own
operating point on the train-side validation split, score base and candidate). The unlabelled smears given to the
calibration are the reviewed smears' images (``adapt`` leaves out its held-out cases itself, as the app's smear loader
does); the screened smears are never calibrated on. The smears' diagnoses (ALL-IDB1's file names) are the cases'
labels the slide rule is chosen on, again only for train-side cases. Then the remaining smears are "screened": base and
candidate are scored on their cells, each at its own stored operating point (AUROC, sensitivity, specificity with 95%
intervals by smear bootstrap).
Finally one adaptation on exactly ``--timing-cells`` reviewed cells is timed. Results go to a JSON file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alllab.analysis import adaptation  # noqa: E402  (after the path set-up)
from alllab.analysis.adaptation_rules import Requirements  # noqa: E402
from inference.io import load_image  # noqa: E402
from inference.models import load_checkpoint  # noqa: E402
from inference.preprocess import Preprocessing  # noqa: E402
from inference.training.data import idb1_cells  # noqa: E402
from inference.training.datasets import idb1_smears  # noqa: E402

NEW_LAB_SIZE = "1712x1368"


def new_lab_cells(size: int) -> tuple[list[adaptation.ReviewedCell], dict[str, int]]:
    """Every labelled cell of the 1712x1368 smears, the smear as its case; and each smear's slide label."""
    table = idb1_cells(size=size)
    cells, smear_label = [], {}
    for i in np.flatnonzero((table.smear_size == NEW_LAB_SIZE) & (table.label >= 0)):
        smear = str(table.smear[i])
        smear_label[smear] = int(table.smear_label[i])
        cells.append(
            adaptation.ReviewedCell(
                cell_id=int(i),
                case_id=smear,
                label=int(table.label[i]),
                crop=table.crops["scaled"][i],
                stain_stats=table.stats[smear],
            )
        )
    return cells, smear_label


def unlabelled_smears(smears: set[str]) -> adaptation.UnlabelledSmears:
    """The reviewed smears' images, lazily, for the calibration step; ``adapt`` passes its held-out cases to leave out
    (the app's ``lab_unlabelled_smears`` is called the same way)."""
    paths = {sm.name: sm.path for sm in idb1_smears() if sm.name in smears}

    def load(exclude_case_ids):
        excluded = {str(c) for c in exclude_case_ids}
        return (load_image(paths[s]) for s in sorted(paths) if s not in excluded)

    return load


def draw_smears(smear_label: dict[str, int], n: int, seed: int) -> list[str]:
    """``n`` smears, half from ALL patients and half healthy where possible, seeded."""
    rng = np.random.default_rng(seed)
    pos = sorted(s for s, v in smear_label.items() if v == 1)
    neg = sorted(s for s, v in smear_label.items() if v == 0)
    rng.shuffle(pos)
    rng.shuffle(neg)
    n_neg = min(len(neg), n // 2)
    return pos[: n - n_neg] + neg[:n_neg]  # all from ALL patients when there is no healthy smear


def screen(*, base: Path, candidate: Path, cells: list[adaptation.ReviewedCell], seed: int) -> dict:
    """Base and candidate on the screened (never reviewed) smears' cells."""
    p_base, thr_base, _ = adaptation.score(checkpoint_path=base, cells=cells)
    p_cand, thr_cand, _ = adaptation.score(checkpoint_path=candidate, cells=cells)
    return adaptation.compare_heldout(
        labels=[c.label for c in cells],
        case_ids=[c.case_id for c in cells],
        p_base=p_base,
        p_candidate=p_cand,
        threshold_base=thr_base,
        threshold_candidate=thr_cand,
        seed=seed,
    )


def adapted(outcome: adaptation.AdaptationOutcome) -> dict:
    """What the run's adaptation did before scoring: calibration, the two operating points, training."""
    ev = outcome.evaluation
    return {
        "calibration": ev["calibration"],
        "operating_points": ev["operating_points"],
        "best_epoch": ev["training"]["best_epoch"],
        "epochs_run": ev["training"]["epochs_run"],
        "n_train": ev["training"]["n_train"],
        "n_val": ev["training"]["n_val"],
    }


def short(m: dict) -> dict:
    keys = ("auroc", "sensitivity", "specificity", "precision", "f1", "mcc", "accuracy")
    return {k: m[k] for k in keys} | {f"{k}_ci95": m.get(f"{k}_ci95") for k in ("auroc", "sensitivity", "specificity")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", type=Path, required=True, help="checkpoint trained without the 1712x1368 smears")
    ap.add_argument("--reviewed", type=int, nargs="+", default=[10, 20, 30], help="numbers of reviewed smears")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--patience", type=int, default=5)
    ap.add_argument("--min-cells-per-class", type=int, default=20)
    ap.add_argument("--timing-cells", type=int, default=500, help="0 skips the timed run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "var" / "lab_adaptation" / "results.json")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    base_ck = load_checkpoint(args.base)
    cells, smear_label = new_lab_cells(int(base_ck.preprocessing["input_size"]))
    requirements = Requirements(min_cases=4, min_cells_per_class=args.min_cells_per_class)
    work = args.out.parent / "candidates"
    work.mkdir(parents=True, exist_ok=True)
    report = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs visible, torch threads {args.threads}, no GPU used",
        "base": {
            "path": str(args.base),
            "version": base_ck.version,
            "sha256": base_ck.sha256,
            "operating_point": Preprocessing.coerce(base_ck.preprocessing).operating_point.to_dict(),
            "extra": {k: v for k, v in base_ck.extra.items() if k in ("trained_on", "command", "val_groups")},
        },
        "new_lab": {
            "smears": len(smear_label),
            "all_smears": sum(smear_label.values()),
            "cells": len(cells),
            "blast_cells": sum(c.label for c in cells),
        },
        "settings": {k: str(v) for k, v in vars(args).items()},
        "runs": [],
    }
    load_all = lambda cs: list(cs)  # noqa: E731  (crops are already in memory)
    for n in args.reviewed:
        reviewed_smears = set(draw_smears(smear_label, n, args.seed))
        reviewed = [c for c in cells if c.case_id in reviewed_smears]
        screened = [c for c in cells if c.case_id not in reviewed_smears]
        out_path = work / f"reviewed_{n}.pt"
        t0 = time.perf_counter()
        try:
            outcome = adaptation.adapt(
                cells=reviewed,
                load_crops=load_all,
                base_path=args.base,
                base_sha256=base_ck.sha256,
                out_path=out_path,
                version=f"{base_ck.version}+bench.{n}",
                requirements=requirements,
                epochs=args.epochs,
                patience=args.patience,
                seed=args.seed,
                unlabelled_smears=unlabelled_smears(reviewed_smears),
                case_labels={s: smear_label[s] for s in reviewed_smears},
            )
        except adaptation.AdaptationRefused as exc:
            report["runs"].append({"reviewed_smears": n, "refused": str(exc)})
            continue
        seconds = time.perf_counter() - t0
        run = {
            "reviewed_smears": n,
            "reviewed_cells": len(reviewed),
            "reviewed_smears_drawn": len(reviewed_smears),
            "screened_smears": len(smear_label) - len(reviewed_smears),
            "screened_cells": len(screened),
            "adapt_seconds": round(seconds, 1),
            **adapted(outcome),
            "reviewed_heldout": {
                "n_cells": outcome.evaluation["n_cells"],
                "n_cases": outcome.evaluation["n_cases"],
                "base": short(outcome.evaluation["base"]),
                "candidate": short(outcome.evaluation["candidate"]),
                "gate": outcome.evaluation["gate"]["passed"],
            },
        }
        if screened:
            s = screen(base=args.base, candidate=out_path, cells=screened, seed=args.seed)
            run["screened"] = {"base": short(s["base"]), "candidate": short(s["candidate"]), "n_blast": s["n_blast"]}
        report["runs"].append(run)
        print(json.dumps(run), flush=True)
        args.out.write_text(json.dumps(report, indent=1))
    if args.timing_cells:
        rng = np.random.default_rng(args.seed)
        order = list(rng.permutation(sorted(smear_label)))
        chosen: list[adaptation.ReviewedCell] = []
        for smear in order:
            chosen += [c for c in cells if c.case_id == smear]
            if len(chosen) >= args.timing_cells:
                break
        chosen = chosen[: args.timing_cells]
        chosen_smears = {str(c.case_id) for c in chosen}
        t0 = time.perf_counter()
        outcome = adaptation.adapt(
            cells=[replace(c) for c in chosen],
            load_crops=load_all,
            base_path=args.base,
            base_sha256=base_ck.sha256,
            out_path=work / "timing.pt",
            version=f"{base_ck.version}+bench.timing",
            requirements=requirements,
            epochs=args.epochs,
            patience=args.patience,
            seed=args.seed,
            unlabelled_smears=unlabelled_smears(chosen_smears),
            case_labels={s: smear_label[s] for s in chosen_smears},
        )
        report["timing"] = {
            "reviewed_cells": len(chosen),
            "smears": len({c.case_id for c in chosen}),
            "adapt_seconds": round(time.perf_counter() - t0, 1),
            "epochs_run": outcome.evaluation["training"]["epochs_run"],
            "calibration": outcome.evaluation["calibration"],
        }
        print(json.dumps(report["timing"]), flush=True)
    args.out.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
