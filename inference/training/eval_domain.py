"""Measure the domain check, the operating point and the label-free calibration on one checkpoint:
``python -m inference.eval_domain --model CKPT --out var/results/domain_NAME.json [--calibrate] [--save FITTED.pt]``.

In one run, from the checkpoint's own data (``inference.training.fit_reference``):

1. the operating point and domain reference are fitted as ``python -m inference.fit_reference`` does
   (``--save`` writes that checkpoint);
2. **false flags on in-domain held-out smears**: the validation smears are cut in two halves (by smear);
   thresholds are set on one half and the other half is counted, then the other way round (two-fold
   cross-fitting, so no smear is judged by a threshold it helped set), and leave-one-out (each smear judged by
   thresholds set on all the others: closer to the shipped thresholds, which use every validation smear);
   the same counts with each check at its own quantile (``per_check_thresholds``), to compare with the joint
   scale (``inference.domain``) in one run;
3. **other acquisitions** (with the reference fitted on all validation smears): ALL-IDB1's 1712x1368 smears
   when the checkpoint did not train on them, and BCCD's ``test`` fields (never trained on by any
   checkpoint here): the flagged fraction, the calls, and the slide rule's outcome per field;
4. cell metrics (accuracy, precision, recall, specificity, F1, MCC, AUROC) on the labelled cells of the
   1712x1368 smears at the operating point;
5. with ``--calibrate`` (the cross-acquisition proxy): ``inference.adapt`` on the unlabelled 1712x1368 smears,
   variants (stain target + AdaBN, AdaBN only, stain target only), then the same cell metrics and the
   flags on the held-out calibration smears, all in this run.

Nothing is chosen on what is measured here: thresholds come from validation smears only.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..adapt import calibrate_checkpoint
from ..domain import DomainReference, with_thresholds
from ..io import load_image
from ..models import load_checkpoint, save_checkpoint
from ..operating import OperatingPoint
from ..predict import Observation, Predictor
from ..summary import summarize, wilson_interval
from .data import CellTable, idb1_cells
from .datasets import bccd_images, idb1_smears
from .fit_reference import checkpoint_split, fit_domain, fit_operating_point, observe_smears
from .metrics import binary_metrics

METRIC_KEYS = ("accuracy", "precision", "recall", "specificity", "f1", "mcc", "auroc")


def _flags(ref: DomainReference, observed: dict[str, Observation], names: list[str]) -> dict:
    """Smear- and cell-level flag rates of ``ref`` on ``names``, with the reasons."""
    smear_flags: list[bool] = []
    reasons: Counter[str] = Counter()
    cells, cell_flags = 0, 0
    per = {}
    for n in names:
        o = observed[n]
        cell_res, smear, _ = ref.assess(pooled=o.pooled, stats=o.stats)
        smear_flags.append(not smear.in_domain)
        reasons.update(smear.reasons)
        cells += len(cell_res)
        cell_flags += sum(not c.in_domain for c in cell_res)
        per[n] = {"score": round(smear.score, 3), "reasons": list(smear.reasons)}
    return {
        "n_smears": len(names),
        "flagged_smears": int(sum(smear_flags)),
        "flagged_fraction": round(float(np.mean(smear_flags)), 4) if names else None,
        "reasons": dict(reasons),
        "n_cells": cells,
        "flagged_cell_fraction": round(cell_flags / cells, 4) if cells else None,
        "per_smear": per,
    }


def _thresholds_on(
    ref: DomainReference, observed: dict[str, Observation], smears: list[str], *, note: str, joint: bool = True
) -> DomainReference:
    """``ref`` (means, covariance and image statistics from training data) with its thresholds set on ``smears``
    alone: what ``fit_domain`` on those smears gives, without running the network over the training cells again."""
    return with_thresholds(
        ref,
        cell_pooled=np.concatenate([observed[o].pooled for o in smears]),
        smear_pooled=[observed[o].pooled for o in smears],
        smear_stats_rows=np.stack([observed[o].stats for o in smears]),
        note=note,
        joint=joint,
    )


def _leave_one_out(
    ref: DomainReference, observed: dict[str, Observation], val: list[str], *, joint: bool = True
) -> dict:
    """Each validation smear judged by thresholds set on all the *other* validation smears.

    The shipped thresholds come from every validation smear; two-fold cross-fitting judges thresholds set on half
    of them, whose 99th percentile sits lower in the tail, so it overstates the false-flag rate of what ships.
    Leaving one smear out at a time estimates it for thresholds set on n - 1 smears. The reference's means,
    covariance and image statistics come from training data and do not change.
    """
    flagged: list[str] = []
    reasons: Counter[str] = Counter()
    for s in val:
        others = [v for v in val if v != s]
        note = f"q0.99 of the {len(others)} other validation smears"
        ref_s = _thresholds_on(ref, observed, others, note=note, joint=joint)
        judged = _flags(ref_s, observed, [s])
        if judged["flagged_smears"]:
            flagged.append(s)
            reasons.update(judged["reasons"])
    n = len(val)
    low, high = wilson_interval(len(flagged), n)
    return {
        "what": "validation smears, each judged by thresholds set on the other validation smears (leave one out)",
        "n_smears": n,
        "flagged_smears": len(flagged),
        "flagged_fraction": round(len(flagged) / max(1, n), 4),
        "wilson_95": [round(low, 4), round(high, 4)],
        "reasons": dict(reasons),
        "flagged": flagged,
    }


def _cross_fitted(
    ref: DomainReference, observed: dict[str, Observation], halves: list[list[str]], *, joint: bool = True
) -> list[dict[str, Any]]:
    """Thresholds set on one half of the validation smears judge the other half, both ways round."""
    out = []
    for a, b in ((0, 1), (1, 0)):
        ref_a = _thresholds_on(ref, observed, halves[a], note=f"q0.99 of validation half {a}", joint=joint)
        out.append({"thresholds_on": halves[a], "judged": _flags(ref_a, observed, halves[b])})
    return out


def _calls(
    op: OperatingPoint,
    ref: DomainReference | None,
    observed: dict[str, Observation],
    labels: dict[str, int],
    names: list[str],
) -> dict:
    """Per field: the summary's call with and without the domain check, and the bare slide rule's outcome."""
    out: dict[str, Counter[str]] = {"with_domain_check": Counter(), "without_domain_check": Counter()}
    rule = {"tp": 0, "fn": 0, "tn": 0, "fp": 0}
    by_label: dict[int, Counter[str]] = {0: Counter(), 1: Counter()}
    for n in names:
        o = observed[n]
        smear = ref.assess(pooled=o.pooled, stats=o.stats)[1] if ref is not None else None
        with_dc = summarize(o.p_blast.tolist(), o.segmentation.quality, operating_point=op, domain=smear).call
        without = summarize(o.p_blast.tolist(), o.segmentation.quality, operating_point=op).call
        out["with_domain_check"][with_dc] += 1
        out["without_domain_check"][without] += 1
        y = labels[n]
        by_label[y][with_dc] += 1
        positive = int((o.p_blast >= op.cell_threshold).sum() >= op.min_blasts)
        rule[("tp" if positive else "fn") if y else ("fp" if positive else "tn")] += 1
    n_pos, n_neg = rule["tp"] + rule["fn"], rule["tn"] + rule["fp"]
    return {
        "calls_with_domain_check": dict(out["with_domain_check"]),
        "calls_without_domain_check": dict(out["without_domain_check"]),
        "calls_on_ALL_smears": dict(by_label[1]),
        "calls_on_healthy_smears": dict(by_label[0]),
        "slide_rule": {
            **rule,
            "accuracy": round((rule["tp"] + rule["tn"]) / max(1, n_pos + n_neg), 4),
            "sensitivity": round(rule["tp"] / n_pos, 4) if n_pos else None,
            "specificity": round(rule["tn"] / n_neg, 4) if n_neg else None,
        },
    }


def _cell_metrics(predictor: Predictor, table: CellTable, smears: list[str], op: OperatingPoint) -> dict:
    idx = np.flatnonzero(np.isin(table.smear, smears) & (table.label >= 0))
    crops = [table.crops["scaled"][i] for i in idx]
    stats = [table.stats[str(table.smear[i])] for i in idx] if predictor.preprocessing.stain else None
    p = predictor.predict_crops(crops, stain_stats=stats)
    m = binary_metrics(table.label[idx], p, threshold=op.cell_threshold)
    return {"n": int(len(idx)), **{k: round(float(m[k]), 4) for k in METRIC_KEYS}}


def run(model: str, *, calibrate: bool, save: str | None, seed: int = 0) -> dict:
    t0 = time.time()
    ck = load_checkpoint(model)
    table = idb1_cells(size=int(ck.preprocessing.input_size))
    split = checkpoint_split(ck, table)
    predictor = Predictor(ck, device=torch.device("cpu"), path=Path(model))
    op = fit_operating_point(ck, table, split)
    trained_on = {s.source for s in split.samples}
    small = sorted(s for s, m in table.smears.items() if m["size"] == "1712x1368")
    other_idb1 = [s for s in small if s not in trained_on]
    bccd_test = [f"BCCD/{im.name}" for im in bccd_images(split="test")]
    names = sorted(set(split.train_smears) | set(split.val_smears) | set(other_idb1)) + bccd_test
    observed = observe_smears(predictor, names)
    labels = {sm.name: sm.label for sm in idb1_smears()} | {n: 0 for n in names if n.startswith("BCCD/")}

    ref = fit_domain(predictor, split, observed, split.val_smears)
    # two-fold cross-fitting over the validation smears, by smear (seeded)
    val = [s for s in split.val_smears if len(observed[s].pooled)]
    order = np.random.default_rng(seed).permutation(len(val))
    halves = [sorted(val[i] for i in order[: len(val) // 2]), sorted(val[i] for i in order[len(val) // 2 :])]
    cross = _cross_fitted(ref, observed, halves)
    flagged = sum(c["judged"]["flagged_smears"] for c in cross)
    judged = sum(c["judged"]["n_smears"] for c in cross)
    cells_flagged = sum(c["judged"]["flagged_cell_fraction"] * c["judged"]["n_cells"] for c in cross)
    cells_judged = sum(c["judged"]["n_cells"] for c in cross)

    loo = _leave_one_out(ref, observed, val)
    # the same measurements with each check at its own quantile (no joint scale: what references before it did)
    per_check = _thresholds_on(ref, observed, split.val_smears, note="q0.99 per check", joint=False)
    cross_per_check = _cross_fitted(ref, observed, halves, joint=False)

    result: dict[str, Any] = {
        "model": str(model),
        "model_version": ck.version,
        "model_sha256": ck.sha256,
        "split": split.description,
        "operating_point": op.to_dict(),
        "domain_thresholds": ref.thresholds,
        "in_domain_held_out": {
            "what": "validation smears of the checkpoint's own split, two-fold cross-fitted thresholds (by smear)",
            "n_smears": judged,
            "flagged_smears": flagged,
            "flagged_fraction": round(flagged / max(1, judged), 4),
            "flagged_cell_fraction": round(cells_flagged / max(1, cells_judged), 4),
            "folds": cross,
        },
        "in_domain_leave_one_out": loo,
        "in_domain_held_out_calls": _calls(op, ref, observed, labels, split.val_smears),
        "bccd_test": {**_flags(ref, observed, bccd_test), **_calls(op, ref, observed, labels, bccd_test)},
        "per_check_thresholds": {
            "what": "the same checks, each at its own quantile, with no joint scale",
            "domain_thresholds": per_check.thresholds,
            "in_domain_held_out_flagged_smears": sum(c["judged"]["flagged_smears"] for c in cross_per_check),
            "in_domain_leave_one_out": _leave_one_out(ref, observed, val, joint=False),
            "bccd_test": _flags(per_check, observed, bccd_test),
        },
    }
    if other_idb1:
        result["idb1_1712x1368"] = {
            **_flags(ref, observed, other_idb1),
            **_calls(op, ref, observed, labels, other_idb1),
            "cells_at_operating_point": _cell_metrics(predictor, table, other_idb1, op),
        }
        result["per_check_thresholds"]["idb1_1712x1368"] = _flags(per_check, observed, other_idb1)
    with tempfile.TemporaryDirectory() as tmp:
        fitted = Path(save) if save else Path(tmp) / "fitted.pt"
        save_checkpoint(
            fitted,
            ck.model,
            arch=ck.arch,
            config=ck.config,
            preprocessing=ck.preprocessing.with_(operating_point=op, domain=ref.to_dict()),
            class_names=ck.class_names,
            version=f"{ck.version}+ref",
            temperature=ck.temperature,
            metrics=ck.metrics,
            extra={**ck.extra, "fitted_reference": {"from_version": ck.version, "split": split.description}},
        )
        if calibrate and other_idb1:
            result["calibration"] = _calibration(fitted, Path(tmp), table, other_idb1, labels, op, seed)
    result["wall_seconds"] = round(time.time() - t0, 1)
    return result


def _calibration(
    fitted: Path, tmp: Path, table: CellTable, smears: list[str], labels: dict[str, int], op: OperatingPoint, seed: int
) -> dict:
    """The cross-acquisition proxy: calibrate on the unlabelled 1712x1368 smears, test on their labelled cells."""
    paths = {sm.name: sm.path for sm in idb1_smears()}
    base = Predictor(load_checkpoint(fitted), device=torch.device("cpu"), path=fitted)
    out: dict[str, Any] = {"before": _cell_metrics(base, table, smears, op)}
    variants: dict[str, dict[str, bool]] = {
        "stain_target+adabn": {"stain": True, "batchnorm": True},
        "stain_target+adabn, base threshold kept": {"stain": True, "batchnorm": True, "match_threshold": False},
        "adabn_only": {"stain": False, "batchnorm": True},
        "stain_target_only": {"stain": True, "batchnorm": False},
    }
    for name, kw in variants.items():
        path = tmp / f"v{len(out)}.pt"
        res = calibrate_checkpoint(
            fitted,
            [paths[s] for s in smears],
            path,
            stain=kw["stain"],
            batchnorm=kw["batchnorm"],
            match_threshold=kw.get("match_threshold", True),
            lab="ALL-IDB1 1712x1368",
            seed=seed,
        )
        cal = Predictor(load_checkpoint(path), device=torch.device("cpu"), path=path)
        assert cal.domain is not None  # calibrate_checkpoint refits it (domain=True)
        held = [Path(n).stem for n in res.provenance["held_out_for_domain_thresholds"]]
        obs = {s: cal.observe(load_image(paths[s])) for s in smears}
        fit_smears = [s for s in smears if s not in held]
        out[name] = {
            "operating_point": cal.operating_point.to_dict(),
            "cells_at_operating_point": _cell_metrics(cal, table, smears, cal.operating_point),
            "version": res.version,
            "n_calibration_cells": res.n_cells,
            "flags_on_held_out_calibration_smears": _flags(cal.domain, obs, held),
            "flags_on_fitting_smears (optimistic)": _flags(cal.domain, obs, fit_smears),
            "calls_on_all_1712_smears": _calls(cal.operating_point, cal.domain, obs, labels, smears),
        }
        print(json.dumps({name: out[name]["cells_at_operating_point"]}), file=sys.stderr, flush=True)
    return out


def run_calibration_only(model: str, seed: int = 0) -> dict:
    """Section 5 alone, on a checkpoint that already carries its operating point and reference (``--save``)."""
    t0 = time.time()
    ck = load_checkpoint(model)
    table = idb1_cells(size=int(ck.preprocessing.input_size))
    trained_on = {s.source for s in checkpoint_split(ck, table).samples}
    small = sorted(s for s, m in table.smears.items() if m["size"] == "1712x1368" and s not in trained_on)
    labels = {sm.name: sm.label for sm in idb1_smears()}
    with tempfile.TemporaryDirectory() as tmp:
        cal = _calibration(Path(model), Path(tmp), table, small, labels, ck.preprocessing.operating_point, seed)
    return {
        "model": str(model),
        "model_version": ck.version,
        "model_sha256": ck.sha256,
        "operating_point": ck.preprocessing.operating_point.to_dict(),
        "calibration": cal,
        "wall_seconds": round(time.time() - t0, 1),
    }


def _strip(d: Any) -> Any:
    """Drop per-smear detail for the docs JSON (kept in the full output)."""
    if isinstance(d, dict):
        return {k: _strip(v) for k, v in d.items() if k != "per_smear"}
    if isinstance(d, list):
        return [_strip(v) for v in d]
    return d


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(prog="python -m inference.eval_domain", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="checkpoint (its own split is read from it)")
    ap.add_argument("--out", type=Path, help="write the full JSON here")
    ap.add_argument("--save", help="also write the checkpoint with the fitted operating point and reference")
    ap.add_argument("--calibrate", action="store_true", help="also measure inference.adapt on the 1712x1368 smears")
    ap.add_argument("--calibration-only", action="store_true", help="only section 5, on a checkpoint written by --save")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    result = {
        "command": "python -m inference.eval_domain " + " ".join(argv),
        "machine": f"{platform.machine()} torch {torch.__version__}, {args.threads} thread(s), shared 2-core VM",
        **(
            run_calibration_only(args.model, seed=args.seed)
            if args.calibration_only
            else run(args.model, calibrate=args.calibrate, save=args.save, seed=args.seed)
        ),
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1, default=float) + "\n")
    print(json.dumps(_strip(result), indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
