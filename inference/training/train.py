"""Train the cell classifier: ``python -m inference.train``.

BCE with logits, Adam (lr 1e-3), batch 16, up to 100 epochs with early stopping on validation loss,
then temperature scaling fitted on the same validation split (ECE reported before and after).
Seeded and reproducible on CPU. Data: ALL-IDB2 crops, ALL-IDB1 cells found by our segmentation,
or a lab's own ``path,label`` manifest (to fine-tune on reviewed cells).

Example::

    python -m inference.train --data idb2 --out inference/weights/hybrid_vgg.pt --version 0.1.0-dev
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..models import DEFAULT_CONFIGS, CellClassifier, build_model, save_checkpoint
from ..models.efficientnet import EfficientNetLite
from ..operating import LEGACY_OPERATING_POINT, OperatingPoint
from ..preprocess import Preprocessing
from .calibrate import apply_temperature, expected_calibration_error, fit_temperature
from .data import (
    ARCH_NORMALISATION,
    AUGMENTS,
    CLASS_NAMES,
    DEFAULT_PREPROCESSING,
    CellDataset,
    CellSample,
    train_val_split,
)
from .metrics import binary_metrics
from .operating import choose_operating_point


def code_commit() -> str:
    """The git commit the training code ran at (``+dirty`` with uncommitted changes), or "" outside a checkout.

    The cells a model trains on come from the segmentation of that commit; rebuilding its split later
    (``fit_reference``, ``eval_domain``) needs the same code."""

    def git(*cmd: str) -> str:
        root = Path(__file__).resolve().parents[2]
        return subprocess.run(
            ["git", "-C", str(root), *cmd], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.SubprocessError):
        return ""


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch so a rerun gives the same weights on the same machine."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


@dataclass
class FitResult:
    """What training produced: the best model (by validation loss), its temperature and the history."""

    model: nn.Module
    temperature: float
    best_epoch: int
    history: list[dict] = field(default_factory=list)
    val_metrics: dict = field(default_factory=dict)
    ece_before: float = float("nan")
    ece_after: float = float("nan")


class WeightAverage:
    """An exponential moving average of a model's weights and BatchNorm statistics (as timm's ``ModelEmaV2``).

    Averaging the weights along the end of training finds flatter minima, which transfer better to images unlike
    the training data than any single epoch's weights (Izmailov et al. 2018, SWA; Cha et al. 2021, SWAD); it
    also takes the choice of one epoch, made on a small in-domain validation split, out of the result.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.decay = decay

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for avg, new in zip(self.model.state_dict().values(), model.state_dict().values(), strict=True):
            if avg.dtype.is_floating_point:
                avg.mul_(self.decay).add_(new.detach(), alpha=1 - self.decay)
            else:  # BatchNorm's batch counter
                avg.copy_(new)


def _head(model: nn.Module) -> nn.Module:
    """The final layer every architecture here names ``head``."""
    head = getattr(model, "head", None)
    if not isinstance(head, nn.Module):
        raise TypeError(f"{type(model).__name__} has no head layer to train alone")
    return head


def freeze_trunk(model: nn.Module, frozen: bool) -> None:
    """Train only ``model.head`` (a linear probe on fixed features) while ``frozen``; everything again after.

    Fitting the head first keeps a randomly initialised head from distorting the ImageNet features in the first
    steps of fine-tuning, which costs accuracy on out-of-distribution images (Kumar et al. 2022, LP-FT)."""
    head = {id(p) for p in _head(model).parameters()}
    for p in model.parameters():
        p.requires_grad_(not frozen or id(p) in head)


DISTILL_TEMPERATURE = 2.0  # Hinton et al.'s softening of the teacher's logits; set once, not tuned here


@dataclass(frozen=True)
class Distillation:
    """Learn from a larger network's soft outputs as well as the labels (Hinton et al. 2015, knowledge distillation).

    A network that transfers better to other acquisitions but costs more per cell than the speed budget allows
    can pass on what it learned through its soft outputs on each augmented training batch. (EfficientNet-Lite2,
    the one candidate measured, transfers no better than Lite0: docs/results/transfer.md, sixth pass.) The teacher must have trained on the same cells with the same validation smears held
    out (``load_teacher`` checks), so nothing this run validates or tests on leaks in through it.
    """

    teacher: nn.Module
    weight: float = 0.5  # share of the loss that is the teacher's; the rest is the labels'
    temperature: float = DISTILL_TEMPERATURE
    provenance: dict = field(default_factory=dict)  # the teacher's file, architecture and sha256, for the metrics

    def loss(self, x: torch.Tensor, logits: torch.Tensor, hard: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            soft = torch.sigmoid(self.teacher(x) / self.temperature)
        t = self.temperature
        kd = nn.functional.binary_cross_entropy_with_logits(logits / t, soft) * t * t  # keeps gradients' scale
        return (1 - self.weight) * hard + self.weight * kd


def load_teacher(path: str | Path, prep: dict, val_groups: list[str], *, weight: float = 0.5) -> Distillation:
    """The teacher checkpoint at ``path`` as a ``Distillation``, after checking that it shares this run's input
    (size, normalisation, stain target) and its validation smears; exits with the reason otherwise."""
    from ..models import load_checkpoint

    if not 0 < weight <= 1:
        raise SystemExit(f"--distill-weight must be in (0, 1], not {weight}")
    ck = load_checkpoint(path)
    ours = Preprocessing.coerce(prep)
    for key in ("input_size", "mean", "std", "stain"):
        if getattr(ck.preprocessing, key) != getattr(ours, key):
            raise SystemExit(f"--teacher {path}: its {key} differs from this run's; train both with one recipe")
    theirs = ck.extra.get("val_groups", ck.metrics.get("val_groups"))
    if theirs is None or sorted(theirs) != sorted(val_groups):
        raise SystemExit(
            f"--teacher {path}: it did not hold out this run's validation smears (train it on the same data with "
            "the same seed), so it may have trained on cells this run validates on"
        )
    teacher = ck.model.fused() if hasattr(ck.model, "fused") else ck.model
    for p in teacher.parameters():
        p.requires_grad_(False)
    provenance = {"path": str(path), "arch": ck.arch, "sha256": ck.sha256, "weight": weight}
    return Distillation(teacher.eval(), weight=weight, provenance=provenance)


@torch.inference_mode()
def predict_logits(model: nn.Module, ds: CellDataset, *, batch_size: int = 64) -> np.ndarray:
    """Logits for every sample of a (non-augmented) dataset, in order."""
    model.eval()
    out = []
    for start in range(0, len(ds), batch_size):
        x, _ = ds.batch(np.arange(start, min(start + batch_size, len(ds))))
        out.append(model(x).float().numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def initial_model(arch: str, config: dict) -> CellClassifier:
    """An untrained network of ``arch``; one whose config says ``pretrained`` starts from its ImageNet weights."""
    model = build_model(arch=arch, config=config)
    if config.get("pretrained"):
        if not isinstance(model, EfficientNetLite):
            raise ValueError(f"{arch}: there are no ImageNet weights to start from")
        model.load_imagenet()
    return model


def fit(
    model: nn.Module,
    train: CellDataset,
    val: CellDataset | None,
    *,
    epochs: int = 100,
    patience: int = 10,
    batch_size: int = 16,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
    plateau: bool = False,
    ema_epochs: float = 0.0,
    head_epochs: int = 0,
    distill: Distillation | None = None,
    on_epoch: Callable[[dict], None] | None = None,
) -> FitResult:
    """Train with Adam + BCE-with-logits; keep the epoch with the lowest validation loss; fit a temperature.

    Without a validation set the last epoch is kept and the temperature stays 1. ``plateau`` divides the
    learning rate by 3 after 3 epochs without a better validation loss (down to 1e-5), which steadies
    training on small validation splits. ``ema_epochs`` > 0 validates and keeps an exponential moving average of
    the weights with that time constant (in epochs) instead of the raw weights. ``head_epochs`` trains only the
    head, on the frozen trunk in eval mode, for that many first epochs (early stopping waits for them).
    ``distill`` adds a teacher's soft outputs to the training loss (validation loss stays on the labels alone).
    ``on_epoch`` is called with each epoch's history row (a library caller's progress report); an exception it
    raises stops training and propagates (that is how a caller cancels).
    """
    seed_everything(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=1 / 3, patience=3, min_lr=1e-5) if plateau else None
    loss_fn = nn.BCEWithLogitsLoss()
    best_state, best_loss, best_epoch, stale = None, float("inf"), 0, 0
    history = []
    steps_per_epoch = max(1, -(-len(train) // batch_size))
    ema = WeightAverage(model, 1 - 1 / (ema_epochs * steps_per_epoch)) if ema_epochs > 0 else None
    judged = ema.model if ema is not None else model  # the weights validated, kept and returned
    bar = tqdm(range(1, epochs + 1), desc="train", unit="epoch", disable=not progress, file=sys.stderr)
    for epoch in bar:
        probing = epoch <= head_epochs
        if head_epochs:
            freeze_trunk(model, probing)
        model.train()
        if probing:  # the trunk's BatchNorm statistics stay the pretrained ones too
            model.eval()
            _head(model).train()
        order = rng.permutation(len(train))
        total, seen = 0.0, 0
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            if len(idx) < 2:  # BatchNorm cannot train on a batch of one
                continue
            x, y = train.batch(idx)
            logits = model(x)
            loss = loss_fn(logits, y)
            if distill is not None:
                loss = distill.loss(x, logits, loss)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if ema is not None:
                ema.update(model)
            total += loss.item() * len(idx)
            seen += len(idx)
        row = {"epoch": epoch, "train_loss": total / max(seen, 1)}
        if val is not None and len(val):
            logits = predict_logits(judged, val)
            row["val_loss"] = float(loss_fn(torch.from_numpy(logits), torch.from_numpy(val.labels)))
            row["val_acc"] = float(((logits >= 0) == (val.labels >= 0.5)).mean())
            if row["val_loss"] < best_loss - 1e-4:
                best_loss, best_epoch, stale = row["val_loss"], epoch, 0
                best_state = copy.deepcopy(judged.state_dict())
            else:
                stale += 1
            if sched is not None:
                sched.step(row["val_loss"])
                row["lr"] = opt.param_groups[0]["lr"]
        history.append(row)
        if on_epoch is not None:
            on_epoch(row)
        bar.set_postfix({k: round(v, 5) for k, v in row.items() if k != "epoch"})
        if val is not None and stale >= patience and not probing:
            break
    result = FitResult(model=model, temperature=1.0, best_epoch=best_epoch or len(history), history=history)
    if best_state is None and ema is not None:  # no validation: the average at the end
        best_state = ema.model.state_dict()
    if best_state is not None:
        model.load_state_dict(best_state)
    if val is not None and len(val):
        logits = predict_logits(model, val)
        result.temperature = fit_temperature(logits, val.labels)
        p_raw = apply_temperature(logits, 1.0)
        p_cal = apply_temperature(logits, result.temperature)
        result.ece_before = expected_calibration_error(p_raw, val.labels)
        result.ece_after = expected_calibration_error(p_cal, val.labels)
        result.val_metrics = binary_metrics(val.labels.astype(int), p_cal)
    model.eval()
    return result


def load_samples(
    data: str,
    *,
    manifest: str | None,
    size: int = 96,
    kind: str = "scaled",
    annotated: bool = False,
    bccd: bool = False,
    cache: bool = True,
) -> list[CellSample]:
    """Samples for a ``--data`` choice: idb2, idb1 (segmented cells), idb1-2592, or a manifest.

    ``annotated`` adds crops at ALL-IDB1's annotated centroids of the same smears; ``bccd`` adds BCCD's white
    cells as negatives.
    """
    from . import data as d

    if data == "idb2":
        return d.idb2_samples()
    if data == "manifest":
        if not manifest:
            raise SystemExit("--data manifest needs --manifest FILE.csv")
        return d.manifest_samples(manifest)
    table = d.idb1_cells(size=size, cache=cache)
    mask = None
    if data == "idb1-2592":  # the recipe the cross-acquisition proxy evaluates, on its training smears
        mask = table.smear_size == "2592x1944"
    smears = {str(s) for s in (table.smear if mask is None else table.smear[mask])}
    samples = table.samples(kind, mask)
    if annotated:
        samples += table.annotated_samples(smears)
    if bccd:  # BCCD's test fields stay unseen, for the other-lab check (python -m inference.eval_bccd)
        samples += d.bccd_cells(size=size, kind=kind, split="trainval")
    return samples


def add_recipe_arguments(ap: argparse.ArgumentParser) -> None:
    """The training recipe's flags, the same for ``train`` and ``crossval``: architecture, data, augmentation."""
    ap.add_argument(
        "--arch",
        default="hybrid_vgg",
        choices=sorted(DEFAULT_CONFIGS),
        help="efficientnet_lite0 starts from ImageNet weights (requirements-bench.txt)",
    )
    ap.add_argument("--crop", default="scaled", choices=["scaled", "masked", "raw"], help="ALL-IDB1 crop kind")
    ap.add_argument("--annotated", action="store_true", help="ALL-IDB1: also crops at annotated centroids")
    ap.add_argument("--bccd", action="store_true", help="add BCCD's trainval white cells as negatives")
    ap.add_argument("--stain", action="store_true", help="Reinhard-normalise every smear to the training mean")
    ap.add_argument(
        "--stain-statistic",
        default="moments",
        choices=["moments", "median"],
        help="--stain matches each smear's LAB mean and std (moments), or shifts its median (independent of its cells)",
    )
    ap.add_argument("--aug", default="standard", choices=sorted(AUGMENTS), help="augmentation preset")
    ap.add_argument("--plateau", action="store_true", help="divide lr by 3 when validation loss stalls")
    ap.add_argument("--ema", type=float, default=0.0, metavar="EPOCHS", help="keep a moving average of the weights")
    ap.add_argument("--head-epochs", type=int, default=0, help="first train only the head on the frozen trunk")
    ap.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (lower to fine-tune ImageNet weights)")
    ap.add_argument("--teacher", help="distil from this checkpoint (same recipe, data and seed: it shares the split)")
    ap.add_argument("--distill-weight", type=float, default=0.5, help="the teacher's share of the training loss")
    ap.add_argument("--input-size", type=int, default=DEFAULT_PREPROCESSING["input_size"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch and OpenCV threads (1: the cores are shared)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m inference.train", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="idb2", choices=["idb2", "idb1", "idb1-2592", "manifest"])
    ap.add_argument("--manifest", help="CSV with path,label (1 = blast), paths relative to the CSV")
    ap.add_argument("--init", help="start from this checkpoint's weights (fine-tuning)")
    ap.add_argument("--out", required=True, help="checkpoint to write")
    ap.add_argument("--version", default="0.0.0-dev")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--patience", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--val-fraction", type=float, default=0.2)
    ap.add_argument("--no-residual", action="store_true")
    ap.add_argument("--no-attention", action="store_true")
    add_recipe_arguments(ap)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)  # augmentation runs in OpenCV: without this it spawns a thread per core
    seed_everything(args.seed)

    samples = load_samples(
        args.data,
        manifest=args.manifest,
        size=args.input_size,
        kind=args.crop,
        annotated=args.annotated,
        bccd=args.bccd,
    )
    if args.init:  # fine-tuning keeps the base model's architecture and preprocessing
        from ..models import load_checkpoint

        ck = load_checkpoint(args.init)
        model, arch, config, prep = ck.model, ck.arch, ck.config, dict(ck.preprocessing)
    else:
        arch = args.arch
        config = DEFAULT_CONFIGS[arch]()
        if arch == "hybrid_vgg":
            config.update(residual=not args.no_residual, attention=not args.no_attention)
        model = initial_model(arch, config)
        prep = dict(DEFAULT_PREPROCESSING, input_size=args.input_size, **ARCH_NORMALISATION.get(arch, {}))
        if args.stain:
            prep["stain"] = stain_target(samples, args.stain_statistic)
    labels = [s.label for s in samples]
    tr, va = train_val_split(labels, [s.group for s in samples], val_fraction=args.val_fraction, seed=args.seed)
    train_ds = CellDataset([samples[i] for i in tr], prep, augment=AUGMENTS[args.aug], seed=args.seed)
    val_ds = CellDataset([samples[i] for i in va], prep, augment=None)
    val_groups = sorted({samples[i].group for i in va})
    distill = load_teacher(args.teacher, prep, val_groups, weight=args.distill_weight) if args.teacher else None
    t0 = time.time()
    res = fit(
        model,
        train_ds,
        val_ds,
        epochs=args.epochs,
        patience=args.patience,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        plateau=args.plateau,
        ema_epochs=args.ema,
        head_epochs=args.head_epochs,
        distill=distill,
    )
    op = training_operating_point(res, val_ds, [samples[i] for i in va], args)
    preprocessing = Preprocessing.coerce(prep).with_(operating_point=op)
    metrics = {
        "data": args.data,
        "data_flags": {"annotated": args.annotated, "bccd": args.bccd, "stain": args.stain, "crop": args.crop},
        "aug": args.aug,
        "ema_epochs": args.ema,
        "head_epochs": args.head_epochs,
        "n_train": len(tr),
        "n_val": len(va),
        "val_groups": val_groups,
        "teacher": distill.provenance if distill is not None else None,
        "best_epoch": res.best_epoch,
        "epochs_run": len(res.history),
        "val": res.val_metrics,
        "ece_val_before": res.ece_before,
        "ece_val_after": res.ece_after,
        "train_seconds": round(time.time() - t0, 1),
        "seed": args.seed,
        "code_commit": code_commit(),
    }
    digest = save_checkpoint(
        args.out,
        res.model,
        arch=arch,
        config=config,
        preprocessing=preprocessing,
        class_names=CLASS_NAMES,
        version=args.version,
        temperature=res.temperature,
        metrics=metrics,
    )
    print(json.dumps({"out": str(args.out), "sha256": digest, "temperature": res.temperature, **metrics}, indent=1))
    return 0


def training_operating_point(
    res: FitResult, val_ds: CellDataset, val: list[CellSample], args: argparse.Namespace
) -> OperatingPoint:
    """The operating point chosen on this run's validation split: cell threshold on its cells, and for ALL-IDB1
    data the slide rule on its smears (every cell segmentation finds there). Legacy without validation cells."""
    if not len(val_ds) or not any(s.label == 1 for s in val):
        return LEGACY_OPERATING_POINT
    p = apply_temperature(predict_logits(res.model, val_ds), res.temperature)
    smear_p = smear_y = None
    if args.data.startswith("idb1"):
        from .data import idb1_cells

        table = idb1_cells(size=args.input_size)
        smears = sorted({s.source for s in val if s.source in table.smears})
        if smears:
            prep = val_ds.preprocessing
            smear_p = {}
            for sm in smears:
                ds = CellDataset(table.smear_cells(args.crop, sm), prep, augment=None)
                smear_p[sm] = apply_temperature(predict_logits(res.model, ds), res.temperature).tolist()
            smear_y = {sm: int(table.smears[sm]["label"]) for sm in smears}
    return choose_operating_point(
        [s.label for s in val],
        p,
        smear_p=smear_p,
        smear_y=smear_y,
        chosen_on=f"validation split of this training run ({args.data}, seed {args.seed}): {len(val)} cells",
    )


def stain_target(samples: list[CellSample], statistic: str = "moments") -> dict | None:
    """The stain target: the LAB statistics of the distinct training smears, averaged (``inference.stain``)."""
    from ..stain import target_of

    stats = {s.group: s.stain_stats for s in samples if s.stain_stats}
    return target_of(list(stats.values()), statistic) if stats else None


if __name__ == "__main__":
    raise SystemExit(main())
