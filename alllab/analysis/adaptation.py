"""Adapt a lab's model to its own smears: split reviewed cells by case, fine-tune, score base and candidate.

The one implementation: the app's training task (``adaptation_tasks``) and the measurement command
(``bench/lab_adaptation.py``) both call :func:`adapt`. It imports no Django, so the bench runs without a database:
cells arrive as :class:`ReviewedCell` (crop, reviewer's label, case). Training is the engine's own
(``inference.training.train.fit``, the function ``python -m inference.train --data manifest --init CKPT`` runs), with
early stopping on a validation split drawn from the training cases only; the held-out cases are never seen until
both models are scored on them.

Before fine-tuning, :func:`calibrate_label_free` runs the engine's label-free calibration
(``inference.adapt.calibrate_checkpoint``) on the lab's unlabelled smears outside the held-out cases, and the candidate
is fine-tuned from the calibrated base; whether it applied, and why not, is in ``evaluation["calibration"]``. The base
is scored on the held-out cells as it is: the comparison is the lab's active model against the whole candidate.

The candidate gets its own operating point (:func:`candidate_operating_point`): after fine-tuning, the engine's
``inference.training.operating`` chooses the cell threshold on the train-side validation split (cell sensitivity
>= 0.95 at the best specificity) and, where the caller knows the cases' diagnoses (``case_labels``), the slide rule's
``min_blasts`` on those validation cases; it is stored in the candidate's ``Preprocessing``. Base and candidate are
each scored on the held-out cells at their own stored point; nothing is chosen on the held-out cases.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from alllab.analysis.adaptation_rules import GATE_RULES, AdaptationRefused, Requirements, adaptation_shortfall
from inference.adapt import calibrate_checkpoint
from inference.models import Checkpoint, CheckpointError, checkpoint_derive, load_checkpoint
from inference.operating import OperatingPoint
from inference.predict import Predictor
from inference.preprocess import Preprocessing
from inference.segmentation.crop import square_resize
from inference.temperature import apply_temperature
from inference.training.data import AUGMENTS, CLASS_NAMES, CellDataset, CellSample, stratified_group_folds
from inference.training.data import train_val_split as engine_train_val_split
from inference.training.metrics import binary_metrics
from inference.training.operating import choose_operating_point
from inference.training.train import fit, predict_logits

N_BOOTSTRAP = 1000  # resamples of held-out cases for the 95% intervals
TRAIN_CROP_PX = 128  # what manifest_samples resizes crops to before training (the augmentation's working size)


@dataclass(frozen=True)
class ReviewedCell:
    """One reviewed white cell: its crop as the analysis cut it, the reviewer's label and its case."""

    cell_id: int | str
    case_id: int | str
    label: int  # 1 = blast, 0 = normal or other white cell (``review.export.EXPORT_LABELS``)
    crop: np.ndarray | None = None  # (H, W, 3) uint8 RGB; loaded after the checks pass
    stain_stats: dict | None = None  # LAB stats of the whole smear, as the predictor uses them


class AdaptationCancelled(Exception):
    """Raised from a progress callback to stop training; nothing is stored."""


# progress(stage, fraction 0..1, history row of the epoch or None); may raise AdaptationCancelled.
Progress = Callable[[str, float, dict | None], None]
# unlabelled_smears(exclude_case_ids): the lab's smears as RGB arrays, lazily, leaving out the held-out cases.
UnlabelledSmears = Callable[[Collection], Iterable[np.ndarray]]


@dataclass(frozen=True)
class CalibrationStep:
    """What the label-free calibration did before fine-tuning: the checkpoint to fine-tune from when it applied."""

    applied: bool
    detail: str
    checkpoint_path: Path | None = None

    def to_dict(self) -> dict:
        return {"applied": self.applied, "detail": self.detail}


def calibrate_label_free(
    *, base_path: Path, smears: Iterable[np.ndarray] | None, out_path: Path, lab: str = ""
) -> CalibrationStep:
    """The engine's label-free calibration of the base on the lab's unlabelled smears, run before fine-tuning.

    ``inference.adapt.calibrate_checkpoint`` re-estimates the stain target, the batch-norm statistics and the domain
    reference on the smears and writes the calibrated base to ``out_path``; weights, temperature and operating point
    stay (those need labels: the fine-tune on reviewed cells). Too few smears or white cells for it (the engine's
    ``ValueError``) is not a failure of the adaptation: the step says why and the base is fine-tuned as it is.
    """
    if smears is None:
        return CalibrationStep(applied=False, detail="not applied: no unlabelled smears given")
    try:
        res = calibrate_checkpoint(base_path, smears, out_path, lab=lab)  # one smear in memory at a time
    except ValueError as exc:
        return CalibrationStep(applied=False, detail=f"not applied: {exc}; fine-tuned without it")
    return CalibrationStep(
        applied=True,
        detail=f"stain target, batch-norm statistics and domain reference re-estimated on {res.n_smears} unlabelled"
        f" smears ({res.n_cells} white cells)",
        checkpoint_path=Path(res.path),
    )


@dataclass
class AdaptationOutcome:
    """What :func:`adapt` produced: the candidate checkpoint, the split and the held-out comparison."""

    sha256: str
    name: str
    version: str
    split: dict[str, list]
    evaluation: dict
    history: list[dict] = field(default_factory=list)


def split_by_case(
    *, labels: Sequence[int], case_ids: Sequence, heldout_fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(train, held-out) cell indices; no case on both sides, both classes on both sides.

    Uses the engine's stratified grouped folds (the held-out side is one of round(1 / fraction) folds), so the split
    is the same kind of split the engine's cross-validation uses. Raises ``AdaptationRefused`` when no seed among a
    few gives both sides both classes (e.g. every blast is in one case).
    """
    k = max(2, round(1 / heldout_fraction))
    y = np.asarray(labels, int)
    groups = [str(c) for c in case_ids]
    for attempt in range(20):
        heldout = np.sort(stratified_group_folds(list(y), groups, k, seed=seed + attempt)[0])
        train = np.setdiff1d(np.arange(len(y)), heldout)
        if all(len(set(y[side])) == 2 for side in (train, heldout)):
            return train, heldout
    raise AdaptationRefused(
        "The reviewed cells cannot be split by case so that both the training and the held-out cases hold blasts "
        "and normal cells: review cells in more cases with blasts and more without."
    )


def _crop(cell: ReviewedCell) -> np.ndarray:
    if cell.crop is None:
        raise ValueError(f"cell {cell.cell_id}: its crop is not loaded")
    return cell.crop


def _samples(cells: Sequence[ReviewedCell]) -> list[CellSample]:
    return [
        CellSample(
            square_resize(_crop(c), TRAIN_CROP_PX),
            int(c.label),
            f"case-{c.case_id}",
            f"cell-{c.cell_id}",
            c.stain_stats,
        )
        for c in cells
    ]


def candidate_operating_point(
    *,
    labels: Sequence[int],
    p: np.ndarray,
    case_ids: Sequence,
    case_labels: Mapping | None,
    base: OperatingPoint,
) -> OperatingPoint:
    """The fine-tuned model's operating point, chosen on the train-side validation split (never the held-out cases).

    Cell threshold: the engine's rule (highest threshold with validation cell sensitivity >= 0.95). Slide rule: when
    ``case_labels`` (case -> 1 for a leukaemia, 0 for healthy) covers every validation case, ``min_blasts`` is chosen
    on those cases from their validation cells (a lower count than the whole smear's when not every cell is given);
    otherwise the engine's default of one blast. A validation split without a blast cannot choose a threshold: the
    base's point is kept and ``chosen_on`` says so.
    """
    y = np.asarray(labels, int)
    if not (y == 1).any():
        note = "kept from the base: the train-side validation split has no blast cell; " + base.chosen_on
        return OperatingPoint(**{**base.to_dict(), "chosen_on": note})
    cases = [str(c) for c in case_ids]
    smear_p: dict[str, list[float]] | None = None
    smear_y: dict[str, int] | None = None
    known = {str(k): int(v) for k, v in (case_labels or {}).items()}
    if known and all(c in known for c in cases):
        by_case: dict[str, list[float]] = {c: [] for c in sorted(set(cases))}
        for c, v in zip(cases, np.asarray(p, float), strict=True):
            by_case[c].append(float(v))
        smear_p, smear_y = by_case, {c: known[c] for c in by_case}
    return choose_operating_point(
        y,
        p,
        smear_p=smear_p,
        smear_y=smear_y,
        chosen_on=f"train-side validation split of the lab's reviewed cells: {len(y)} cells, {len(set(cases))} cases"
        + ("" if smear_y else "; slide rule not chosen (the cases' diagnoses not given): one blast"),
    )


def fine_tune(
    *,
    cells: Sequence[ReviewedCell],
    base_path: Path,
    out_path: Path,
    version: str,
    epochs: int,
    patience: int,
    seed: int = 0,
    val_fraction: float = 0.2,
    aug: str = "standard",
    on_epoch: Callable[[dict], None] | None = None,
    extra: dict | None = None,
    case_labels: Mapping | None = None,
) -> tuple[str, dict]:
    """Fine-tune the checkpoint at ``base_path`` on ``cells`` and write it to ``out_path``; (sha256, training info).

    Early stopping, the temperature and the operating point (:func:`candidate_operating_point`) use a validation
    split of the training cases, grouped by case (``train_val_split``, as ``python -m inference.train`` does).
    """
    ck = load_checkpoint(base_path)
    samples = _samples(cells)
    tr, va = engine_train_val_split(
        [s.label for s in samples], [s.group for s in samples], val_fraction=val_fraction, seed=seed
    )
    prep = dict(ck.preprocessing)
    train_ds = CellDataset([samples[i] for i in tr], prep, augment=AUGMENTS[aug], seed=seed)
    val_ds = CellDataset([samples[i] for i in va], prep, augment=None)
    res = fit(
        ck.model,
        train_ds,
        val_ds,
        epochs=epochs,
        patience=patience,
        seed=seed,
        progress=False,
        on_epoch=on_epoch,
    )
    val_samples = [samples[i] for i in va]
    op = candidate_operating_point(
        labels=[s.label for s in val_samples],
        p=apply_temperature(predict_logits(res.model, val_ds), res.temperature),
        case_ids=[cells[i].case_id for i in va],
        case_labels=case_labels,
        base=Preprocessing.coerce(prep).operating_point,
    )
    prep = Preprocessing.coerce(prep).with_(operating_point=op).to_dict()
    info = {
        "n_train": len(tr),
        "n_val": len(va),
        "best_epoch": res.best_epoch,
        "epochs_run": len(res.history),
        "temperature": res.temperature,
        "val": res.val_metrics,
        "aug": aug,
        "seed": seed,
        "operating_point": op.to_dict(),
    }
    digest = checkpoint_derive(
        ck,
        out_path,
        model=res.model,
        preprocessing=prep,
        class_names=CLASS_NAMES,
        version=version,
        temperature=res.temperature,
        metrics={"adaptation": info},
        extra={**(extra or {}), "base_sha256": ck.sha256, "base_version": ck.version},
    )
    return digest, {**info, "history": res.history}


def operating_point(checkpoint: Checkpoint) -> float:
    """The checkpoint's cell threshold (``preprocessing.operating_point``; a checkpoint older than operating points
    loads with the engine's legacy one), the threshold the predictor itself applies."""
    return float(Preprocessing.coerce(checkpoint.preprocessing).operating_point.cell_threshold)


def score(*, checkpoint_path: Path, cells: Sequence[ReviewedCell], expect_sha256: str | None = None) -> tuple:
    """(calibrated p(blast) per cell, the operating point, the checkpoint) for the checkpoint at ``checkpoint_path``."""
    ck = load_checkpoint(checkpoint_path)
    if expect_sha256 and ck.sha256 != expect_sha256:
        raise CheckpointError(f"{checkpoint_path}: sha256 {ck.sha256[:12]} is not the registered {expect_sha256[:12]}")
    predictor = Predictor(ck, device=torch.device("cpu"), path=Path(checkpoint_path))
    p = predictor.predict_crops([_crop(c) for c in cells], stain_stats=[c.stain_stats for c in cells])
    return np.asarray(p, float), operating_point(ck), ck


def _kappa(y: np.ndarray, pred: np.ndarray) -> float:
    po = float((y == pred).mean())
    pe = float(y.mean() * pred.mean() + (1 - y.mean()) * (1 - pred.mean()))
    return (po - pe) / (1 - pe) if pe < 1 else float("nan")


def _point(y: np.ndarray, p: np.ndarray, threshold: float) -> dict:
    m = binary_metrics(y, p, threshold=threshold)
    pred = (p >= threshold).astype(int)
    m["sensitivity"] = m["recall"]
    m["agreement"] = float((pred == y).mean())  # with the reviewers, cell by cell
    m["kappa"] = _kappa(y, pred)
    m["threshold"] = threshold
    return m


def compare_heldout(
    *,
    labels: Sequence[int],
    case_ids: Sequence,
    p_base: np.ndarray,
    p_candidate: np.ndarray,
    threshold_base: float,
    threshold_candidate: float,
    n_boot: int = N_BOOTSTRAP,
    seed: int = 0,
) -> dict:
    """Base and candidate on the same held-out cells: point metrics, 95% intervals by case, the paired difference.

    Each bootstrap resample draws held-out cases with replacement and takes all their cells, for both models at
    once, so the interval of the difference is paired.
    """
    y = np.asarray(labels, int)
    cases = np.asarray([str(c) for c in case_ids])
    keys = ("auroc", "sensitivity", "specificity")
    out: dict[str, Any] = {
        "base": _point(y, p_base, threshold_base),
        "candidate": _point(y, p_candidate, threshold_candidate),
    }
    unique = np.unique(cases)
    members = {c: np.flatnonzero(cases == c) for c in unique}
    rng = np.random.default_rng(seed)
    draws: dict[str, dict[str, list[float]]] = {m: {k: [] for k in keys} for m in ("base", "candidate", "difference")}
    for _ in range(n_boot):
        idx = np.concatenate([members[c] for c in rng.choice(unique, size=len(unique), replace=True)])
        yb = y[idx]
        if len(set(yb)) < 2:
            continue  # a resample without both classes has no AUROC, sensitivity or specificity
        b = _point(yb, p_base[idx], threshold_base)
        c = _point(yb, p_candidate[idx], threshold_candidate)
        for k in keys:
            draws["base"][k].append(b[k])
            draws["candidate"][k].append(c[k])
            draws["difference"][k].append(c[k] - b[k])
    out["difference"] = {k: out["candidate"][k] - out["base"][k] for k in keys}
    for model, series in draws.items():
        for k, values in series.items():
            v = np.asarray(values, float)
            v = v[~np.isnan(v)]
            ci = [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] if len(v) else [math.nan, math.nan]
            out[model][f"{k}_ci95"] = ci
    out["n_cells"] = int(len(y))
    out["n_cases"] = int(len(unique))
    out["n_blast"] = int(y.sum())
    out["n_bootstrap"] = n_boot
    return out


def gate(comparison: dict) -> dict:
    """Whether the candidate may be activated: not worse than its base on AUROC and on sensitivity (point values)."""
    rules = []
    for key, text in GATE_RULES:
        base, cand = comparison["base"][key], comparison["candidate"][key]
        ok = bool(not math.isnan(cand) and (math.isnan(base) or cand >= base))
        rules.append({"metric": key, "rule": text, "base": base, "candidate": cand, "passed": ok})
    return {"passed": all(r["passed"] for r in rules), "rules": rules}


def adapt(
    *,
    cells: Sequence[ReviewedCell],
    load_crops: Callable[[Sequence[ReviewedCell]], list[ReviewedCell]],
    base_path: Path,
    base_sha256: str | None,
    out_path: Path,
    version: str,
    requirements: Requirements,
    epochs: int,
    patience: int,
    seed: int = 0,
    progress: Progress | None = None,
    extra: dict | None = None,
    unlabelled_smears: UnlabelledSmears | None = None,
    case_labels: Mapping | None = None,
) -> AdaptationOutcome:
    """Check, split by case, calibrate without labels, fine-tune on the training cases, score both on held-out cases.

    Args:
        cells: the reviewed cells (crops may be absent: ``load_crops`` fills them after the checks pass).
        load_crops: returns the same cells with ``crop`` (and ``stain_stats``) filled, in order.
        base_path, base_sha256: the lab's active model, refused unless its weights hash to ``base_sha256``.
        out_path: where the candidate checkpoint is written.
        progress: ``progress(stage, fraction, epoch_row)``; raising ``AdaptationCancelled`` from it stops the work.
        unlabelled_smears: the lab's smears for the label-free calibration (:func:`calibrate_label_free`),
            called with the held-out case ids to leave out; the held-out cases are scored, never calibrated on.
        case_labels: case -> 1 (leukaemia) / 0 (healthy) where known: the candidate's slide rule is then chosen on
            the train-side validation cases (:func:`candidate_operating_point`); the held-out cases' are never used.

    Raises:
        AdaptationRefused: too few reviewed cells or cases, with how many more are needed.
        AdaptationCancelled: the progress callback asked to stop.
        inference.models.CheckpointError: the base checkpoint is missing or does not match its sha256.
    """
    report = progress or (lambda stage, fraction, row: None)
    labels = [int(c.label) for c in cells]
    case_ids = [c.case_id for c in cells]
    missing = adaptation_shortfall(labels=labels, case_ids=case_ids, requirements=requirements)
    if missing:
        raise AdaptationRefused("Not enough reviewed cells to adapt: " + "; ".join(missing) + ".")
    train_idx, held_idx = split_by_case(
        labels=labels, case_ids=case_ids, heldout_fraction=requirements.heldout_fraction, seed=seed
    )
    report("loading cells", 0.02, None)
    loaded = load_crops(cells)
    train = [loaded[i] for i in train_idx]
    held = [loaded[i] for i in held_idx]
    p_base, thr_base, base_ck = score(checkpoint_path=base_path, cells=held, expect_sha256=base_sha256)
    report("calibrating", 0.04, None)
    held_cases = {c.case_id for c in held}
    calibration = calibrate_label_free(
        base_path=base_path,
        smears=unlabelled_smears(held_cases) if unlabelled_smears is not None else None,
        out_path=out_path.with_name(out_path.stem + "-calibrated.pt"),
        lab=str((extra or {}).get("lab", "")),
    )
    start_path = calibration.checkpoint_path if calibration.applied and calibration.checkpoint_path else base_path
    report("training", 0.05, None)

    def on_epoch(row: dict) -> None:
        report("training", 0.05 + 0.85 * row["epoch"] / epochs, row)

    digest, info = fine_tune(
        cells=train,
        base_path=start_path,
        out_path=out_path,
        version=version,
        epochs=epochs,
        patience=patience,
        seed=seed,
        on_epoch=on_epoch,
        extra={**(extra or {}), "label_free_calibration": calibration.to_dict()},
        case_labels={k: v for k, v in (case_labels or {}).items() if k not in held_cases},
    )
    report("scoring", 0.92, None)
    p_cand, thr_cand, _ = score(checkpoint_path=out_path, cells=held, expect_sha256=digest)
    comparison = compare_heldout(
        labels=[c.label for c in held],
        case_ids=[c.case_id for c in held],
        p_base=p_base,
        p_candidate=p_cand,
        threshold_base=thr_base,
        threshold_candidate=thr_cand,
        seed=seed,
    )
    history = info.pop("history")
    evaluation = {
        **comparison,
        "gate": gate(comparison),
        "training": info,
        "calibration": calibration.to_dict(),
        "operating_points": {
            "base": Preprocessing.coerce(base_ck.preprocessing).operating_point.to_dict(),
            "candidate": info["operating_point"],
        },
    }
    split = {
        "train_cell_ids": [c.cell_id for c in train],
        "train_case_ids": sorted({c.case_id for c in train}, key=str),
        "heldout_cell_ids": [c.cell_id for c in held],
        "heldout_case_ids": sorted({c.case_id for c in held}, key=str),
    }
    return AdaptationOutcome(
        sha256=digest, name=base_ck.arch, version=version, split=split, evaluation=evaluation, history=history
    )
