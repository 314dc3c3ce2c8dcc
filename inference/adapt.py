"""Label-free calibration to a lab's own smears: ``python -m inference.adapt SMEAR_DIR --base CKPT --out LAB.pt``.

From a folder of the lab's *unlabelled* smears it re-estimates what needs no labels, and writes a normal
checkpoint (new version, provenance in ``extra["calibration"]``, same architecture and weight names, so it
loads strictly like any other):

1. the Reinhard stain target (only when the base normalises stain): the mean LAB statistics of the lab's
   smears, as ``train --stain`` computes it from training smears;
2. the BatchNorm statistics (AdaBN, Li et al. 2016): every BN layer's running mean and variance re-estimated
   as a cumulative average over the lab's cells, on the *unfused* model; the predictor folds the new
   statistics at load (``model.fused()``) exactly as it does for the shipped weights;
3. the domain check's reference (``inference.domain``): fitted on most of the lab's smears with the adapted
   network, its thresholds set at the 99th percentile of the other, held-out smears (by smear).

The learnt weights, the temperature and the slide rule are kept: choosing those needs labels (the app's
reviewed cells). The cell threshold is moved, label-free, so the lab's cells get as many blast calls from the
calibrated model as from the base (AdaBN shifts the logits: measured on the cross-acquisition proxy, the base's
threshold kept as it was found 2% of the blasts; docs/results/domain.md). With ``domain=False`` the base's domain reference is kept as it was, although the
features it describes moved with the BatchNorm statistics: it then flags more, never less. :func:`calibrate_checkpoint` is the library entry the app calls.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable, Iterable, Sequence, Sized
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .domain import QUANTILE, fit_on_smears
from .io import ImageError, load_image
from .models import CellClassifier, CheckpointError, checkpoint_derive, load_checkpoint, state_sha256
from .operating import OperatingPoint
from .predict import smear_cells
from .preprocess import Preprocessing, normalise_stain, to_tensor
from .stain import statistic_of, target_of
from .temperature import apply_temperature

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")
MIN_SMEARS = 3  # at least one held out for the domain thresholds, two to fit on
MIN_CELLS = 32  # fewer white cells than this say nothing reliable about BatchNorm statistics
BATCH_SIZE = 64
HOLDOUT_FRACTION = 0.2

# progress(stage, done, total): stage is "segment", "batchnorm" or "domain".
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class CalibrationResult:
    """What :func:`calibrate_checkpoint` wrote."""

    path: Path
    version: str
    sha256: str
    base_version: str
    base_sha256: str
    n_smears: int
    n_cells: int
    provenance: dict = field(default_factory=dict)


def smear_paths(folder: str | Path) -> list[Path]:
    """The image files directly in ``folder``, sorted (the lab's smears)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no folder {folder}")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def batchnorm_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def batchnorm_batches(n: int, *, seed: int, size: int = BATCH_SIZE) -> list[torch.Tensor]:
    """Index batches over ``n`` cells in a seeded order (batches mix smears); a short last batch (under half a batch)
    is folded into the one before it, so no batch-norm estimate rests on a handful of cells."""
    order = torch.from_numpy(np.random.default_rng(seed).permutation(n))
    batches = [order[i : i + size] for i in range(0, n, size)]
    if len(batches) > 1 and len(batches[-1]) < size // 2:
        last = batches.pop()  # popped first: the one before it is then batches[-1]
        batches[-1] = torch.cat([batches[-1], last])
    return batches


def reestimate_batchnorm(model: nn.Module, batches: Sequence[torch.Tensor]) -> int:
    """AdaBN: reset every BN layer's running statistics and re-estimate them as a cumulative average over
    ``batches`` (only BN layers in train mode; dropout stays off). Returns the number of BN layers."""
    layers = batchnorm_layers(model)
    if not layers:
        return 0
    model.eval()
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: every batch weighs the same
        m.train()
    try:
        for x in batches:
            if len(x) >= 2:  # a batch of one has no variance
                model(x)
    finally:
        for m, momentum in zip(layers, momenta, strict=True):
            m.momentum = momentum
        model.eval()
    return len(layers)


def _tensor(obs: tuple[list[np.ndarray], dict, object], prep: Preprocessing) -> torch.Tensor:
    crops, lab_stats_, _ = obs
    ready = [normalise_stain(c, lab_stats_, prep) for c in crops]
    return to_tensor(ready, prep) if ready else torch.zeros((0, 3, prep.input_size, prep.input_size))


@torch.no_grad()
def _p(model: CellClassifier, x: torch.Tensor, temperature: float) -> np.ndarray:
    if len(x) == 0:
        return np.zeros(0)
    logits = torch.cat([model(x[i : i + BATCH_SIZE]) for i in range(0, len(x), BATCH_SIZE)]).double().numpy()
    return apply_temperature(logits, temperature)


def matched_operating_point(
    op: OperatingPoint, base_p: np.ndarray, new_p: np.ndarray, *, n_smears: int
) -> OperatingPoint:
    """The cell threshold moved so the calibrated model calls as many of the lab's cells blasts as the base did
    at its own threshold (label-free; AdaBN moves the logits, so the base's threshold no longer means what it
    was chosen to mean). Slide rule and target kept; the validation figures no longer apply, so they are dropped."""
    m = int((np.asarray(base_p) >= op.cell_threshold).sum())
    if m == 0 or len(new_p) == 0:
        return op
    t = float(np.sort(np.asarray(new_p))[::-1][m - 1])
    return replace(
        op,
        cell_threshold=t,
        val_sensitivity=None,
        val_specificity=None,
        chosen_on=f"label-free: the base's threshold {op.cell_threshold:.4f} ({op.chosen_on}) moved to give the "
        f"same number of blast cells ({m} of {len(new_p)}) on the lab's {n_smears} calibration smears; "
        "validate with the lab's reviewed cells",
    )


@torch.no_grad()
def _pooled(model: CellClassifier, x: torch.Tensor) -> np.ndarray:
    if len(x) == 0:
        return np.zeros((0, 0))
    feats = torch.cat([model.forward_features(x[i : i + BATCH_SIZE]) for i in range(0, len(x), BATCH_SIZE)])
    return feats.mean(dim=(2, 3)).double().numpy()


def calibrate_checkpoint(
    base: str | Path,
    smears: Iterable[str | Path | np.ndarray],
    out: str | Path,
    *,
    version: str | None = None,
    stain: bool = True,
    batchnorm: bool = True,
    domain: bool = True,
    match_threshold: bool = True,
    lab: str = "",
    quantile: float = QUANTILE,
    holdout_fraction: float = HOLDOUT_FRACTION,
    seed: int = 0,
    progress: Progress | None = None,
) -> CalibrationResult:
    """Calibrate ``base`` to a lab's unlabelled ``smears`` (paths or (H, W, 3) uint8 RGB arrays); write ``out``.

    ``smears`` is read once, one smear at a time (a generator keeps a single full smear in memory; only the cell
    crops are kept).

    Args:
        version: the new checkpoint's version (default ``<base version>+cal.<first 8 hex of its weights' sha256>``).
        stain, batchnorm, domain: which of the three re-estimations to do (all by default).
        match_threshold: when stain or BatchNorm changed, move the cell threshold so the lab's cells get as
            many blast calls as the base model gave them (``matched_operating_point``).
        lab: a name for the provenance (e.g. the lab's name).
        quantile: the domain thresholds' quantile on the held-out smears.

    Raises:
        ValueError: fewer than ``MIN_SMEARS`` readable smears or ``MIN_CELLS`` white cells found.
        inference.models.CheckpointError: the base checkpoint does not load.
    """
    report = progress or (lambda stage, done, total: None)
    ck = load_checkpoint(base)  # the unfused model, as trained: its BN layers can be re-estimated
    model = ck.model.cpu().eval()
    prep: Preprocessing = ck.preprocessing
    names, observed, skipped = [], [], []
    total = len(smears) if isinstance(smears, Sized) else 0  # 0: not known in advance
    for i, item in enumerate(smears):
        name = item.name if isinstance(item, Path) else (Path(item).name if isinstance(item, str) else f"array{i}")
        try:
            rgb = item if isinstance(item, np.ndarray) else load_image(item)
            _, crops, lab_stats_, stats = smear_cells(rgb)
        except (ImageError, OSError, ValueError) as exc:
            skipped.append(f"{name}: {exc}")
            continue
        finally:
            report("segment", i + 1, total)
        names.append(name)
        observed.append((crops, lab_stats_, stats))
    n_cells = sum(len(c) for c, _, _ in observed)
    if len(observed) < MIN_SMEARS:
        raise ValueError(f"need at least {MIN_SMEARS} readable smears, got {len(observed)} ({len(skipped)} skipped)")
    if n_cells < MIN_CELLS:
        raise ValueError(f"need at least {MIN_CELLS} white cells over the smears, found {n_cells}")

    base_prep = prep
    base_p = np.concatenate([_p(model, _tensor(o, base_prep), ck.temperature) for o in observed])
    changes = []
    if stain and prep.stain is not None:
        target = target_of([o[1] for o in observed], statistic_of(prep.stain))  # the base's way, kept
        prep = prep.with_(stain=target)
        changes.append("stain target")

    x_all = [_tensor(o, prep) for o in observed]
    n_bn = 0
    if batchnorm:
        x = torch.cat(x_all)
        batches = [x[idx] for idx in batchnorm_batches(len(x), seed=seed)]
        report("batchnorm", 0, 1)
        n_bn = reestimate_batchnorm(model, batches)
        report("batchnorm", 1, 1)
        if n_bn:
            changes.append(f"BatchNorm statistics ({n_bn} layers)")

    op = prep.operating_point
    if match_threshold and changes:
        new_p = np.concatenate([_p(model, x, ck.temperature) for x in x_all])
        op = matched_operating_point(op, base_p, new_p, n_smears=len(observed))
        prep = prep.with_(operating_point=op)
        changes.append("cell threshold (matched to the base's positive-cell rate)")

    held: list[int] = []
    if domain:
        report("domain", 0, 1)
        rng = np.random.default_rng(seed)
        order_s = rng.permutation(len(observed))
        n_held = max(1, int(round(holdout_fraction * len(observed))))
        held = sorted(int(i) for i in order_s[:n_held])
        fit = [i for i in range(len(observed)) if i not in held]
        pooled = [_pooled(model, x) for x in x_all]
        ref = fit_on_smears(
            [pooled[i] for i in fit],
            [observed[i][2] for i in fit],
            [pooled[i] for i in held],
            [observed[i][2] for i in held],
            quantile=quantile,
            fitted_on=f"{lab or 'lab'} smears, label-free: {len(fit)} smears, {sum(len(pooled[i]) for i in fit)} cells",
            note=f"q{quantile:g} of {len(held)} held-out smears of the same lab",
        )
        prep = prep.with_(domain=ref.to_dict())
        changes.append("domain reference")
        report("domain", 1, 1)

    digest = state_sha256(model.state_dict())
    version = version or f"{ck.version}+cal.{digest[:8]}"
    provenance = {
        "method": "label-free: " + (", ".join(changes) or "nothing re-estimated"),
        "kept": "weights, temperature, slide rule"
        + ("" if op is not ck.preprocessing.operating_point else ", cell threshold")
        + " (choosing them needs labels)",
        "lab": lab,
        "base_version": ck.version,
        "base_sha256": ck.sha256,
        "smears": names,
        "held_out_for_domain_thresholds": [names[i] for i in held],
        "skipped": skipped,
        "n_cells": n_cells,
        "seed": seed,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    sha = checkpoint_derive(
        ck, out, model=model, preprocessing=prep, version=version, extra={"calibration": provenance}
    )
    load_checkpoint(out)  # strict: the written file loads like any other, or this raises
    return CalibrationResult(
        path=Path(out),
        version=version,
        sha256=sha,
        base_version=ck.version,
        base_sha256=ck.sha256,
        n_smears=len(observed),
        n_cells=n_cells,
        provenance=provenance,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m inference.adapt", description=__doc__.split("\n\n")[0])
    ap.add_argument("smear_dir", help="folder of the lab's unlabelled smear images")
    ap.add_argument("--base", help="checkpoint to calibrate (default: the shipped weights)")
    ap.add_argument("--out", required=True, help="checkpoint to write")
    ap.add_argument("--version", help="version of the new checkpoint")
    ap.add_argument("--lab", default="", help="the lab's name, for the provenance")
    ap.add_argument("--no-stain", action="store_true", help="keep the base's stain target")
    ap.add_argument("--no-batchnorm", action="store_true", help="keep the base's BatchNorm statistics")
    ap.add_argument("--no-domain", action="store_true", help="keep the base's domain reference")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from . import DEFAULT_WEIGHTS

    try:
        res = calibrate_checkpoint(
            args.base or DEFAULT_WEIGHTS,
            smear_paths(args.smear_dir),
            args.out,
            version=args.version,
            stain=not args.no_stain,
            batchnorm=not args.no_batchnorm,
            domain=not args.no_domain,
            lab=args.lab,
            seed=args.seed,
        )
    except (ValueError, FileNotFoundError, CheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"out": str(res.path), "version": res.version, "sha256": res.sha256, **res.provenance}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
