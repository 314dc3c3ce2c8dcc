"""Fit the operating point and the domain reference onto an existing checkpoint, from its own training and
validation data: ``python -m inference.fit_reference CKPT --out NEW.pt [--version V]``.

Which data were the checkpoint's is read from the checkpoint itself:

* a ``crossval cross-acq --save-model`` checkpoint stores its validation groups (``extra["val_groups"]``):
  training smears are the other ALL-IDB1 2592x1944 smears (+ BCCD when it was trained with ``--bccd``);
* a ``train --data idb1`` checkpoint stores its data flags and seed: the grouped split is drawn again
  (``train.load_samples`` + ``data.train_val_split``) and used only if its sizes equal the stored
  ``n_train``/``n_val`` (otherwise this refuses: the cells are not the ones it was trained on).

The operating point is chosen on the validation split (``inference.training.operating``); the domain
reference's class means and covariance on the labelled training cells, its image statistics on the training
smears, and its thresholds at the 99th percentile of the validation smears (every cell segmentation finds on
them, as ``Predictor.analyze`` sees them). The weights are not touched: same sha256, new version, format 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..domain import DomainReference, fit_on_smears
from ..io import load_image
from ..models import Checkpoint, checkpoint_derive, load_checkpoint
from ..operating import OperatingPoint
from ..predict import Observation, Predictor
from .data import CellSample, CellTable, bccd_cells, idb1_cells, idb1_group, train_val_split
from .datasets import bccd_images, idb1_smears


@dataclass
class Split:
    """A checkpoint's own data: its training samples, which of them were validation, and the smears."""

    samples: list[CellSample]
    val_idx: np.ndarray
    train_smears: list[str]  # ALL-IDB1 smear names (and BCCD field names, prefixed "BCCD/")
    val_smears: list[str]
    description: str


def checkpoint_split(ck: Checkpoint, table: CellTable) -> Split:
    """Rebuild the training/validation split a checkpoint was trained with (see the module docstring).

    Raises:
        ValueError: the checkpoint does not say, or the rebuilt split does not match what it stored.
    """
    extra, metrics = ck.extra or {}, ck.metrics or {}
    if "val_groups" in extra:  # crossval cross-acq --save-model
        big = sorted(s for s, m in table.smears.items() if m["size"] == "2592x1944")
        samples = table.samples("scaled", np.isin(table.smear, big)) + table.annotated_samples(set(big))
        if "--bccd" in extra.get("command", ""):
            samples += bccd_cells(size=int(ck.preprocessing.input_size))
        val_groups = set(extra["val_groups"])
        val_idx = np.array([i for i, s in enumerate(samples) if s.group in val_groups])
        val_smears = sorted(s for s in big if idb1_group(s) in val_groups)
        train_smears = sorted(s for s in big if idb1_group(s) not in val_groups)
        what = f"cross-acq checkpoint's validation groups ({len(val_groups)} groups)"
        return Split(samples, val_idx, train_smears, val_smears, what)
    if metrics.get("data") == "idb1":
        from .train import load_samples

        flags = metrics.get("data_flags") or {}
        samples = load_samples(
            "idb1",
            manifest=None,
            size=int(ck.preprocessing.input_size),
            kind=flags.get("crop", "scaled"),
            annotated=bool(flags.get("annotated")),
            bccd=bool(flags.get("bccd")),
        )
        tr, va = train_val_split(
            [s.label for s in samples], [s.group for s in samples], val_fraction=0.2, seed=int(metrics.get("seed", 0))
        )
        if (len(tr), len(va)) != (metrics.get("n_train"), metrics.get("n_val")):
            raise ValueError(
                f"rebuilt split has {len(tr)}/{len(va)} train/val cells, the checkpoint says "
                f"{metrics.get('n_train')}/{metrics.get('n_val')}: not the data it was trained on (the segmentation "
                f"decides the cells; run this from a checkout of the code that trained it"
                + (f", {metrics['code_commit']}" if metrics.get("code_commit") else "")
                + ")"
            )
        val_sources = {samples[i].source for i in va}
        train_sources = {samples[i].source for i in tr}
        what = f"train --data idb1 split rebuilt (seed {metrics.get('seed', 0)}, {len(tr)}/{len(va)} cells, as stored)"
        return Split(samples, va, sorted(train_sources - val_sources), sorted(val_sources), what)
    raise ValueError("the checkpoint names neither validation groups nor an idb1 training run: cannot find its data")


def observe_smears(predictor: Predictor, names: list[str]) -> dict[str, Observation]:
    """``Predictor.observe`` every named smear (ALL-IDB1 names, or ``BCCD/<name>``)."""
    idb1 = {sm.name: sm.path for sm in idb1_smears()}
    bccd = {f"BCCD/{im.name}": im.path for im in bccd_images()} if any(n.startswith("BCCD/") for n in names) else {}
    out = {}
    for n in names:
        out[n] = predictor.observe(load_image(idb1[n] if n in idb1 else bccd[n]))
    return out


def training_features(predictor: Predictor, samples: list[CellSample]) -> tuple[np.ndarray, np.ndarray]:
    """Pooled features and labels of labelled training cells (their smear's stain statistics applied)."""
    crops = [s.crop for s in samples]
    stats = [s.stain_stats or {} for s in samples] if predictor.preprocessing.stain else None
    pooled = predictor.forward(crops, stain_stats=stats)[1]
    return pooled, np.array([s.label for s in samples])


def fit_domain(
    predictor: Predictor, split: Split, observed: dict[str, Observation], val_smears: list[str], *, note: str = ""
) -> DomainReference:
    """The reference: class means/covariance on the training cells, image stats on the training smears,
    thresholds on ``val_smears`` (a subset of the validation smears, for cross-fitting)."""
    val = set(split.val_idx.tolist())
    train = [s for i, s in enumerate(split.samples) if i not in val]
    pooled, labels = training_features(predictor, train)
    return fit_on_smears(
        [pooled],
        [observed[s].stats for s in split.train_smears],
        [observed[s].pooled for s in val_smears],
        [observed[s].stats for s in val_smears],
        fit_labels=[labels],
        fitted_on=f"{len(train)} labelled training cells, {len(split.train_smears)} training smears",
        note=note or f"q0.99 of {len(val_smears)} validation smears ({split.description})",
    )


def fit_operating_point(ck: Checkpoint, table: CellTable, split: Split) -> OperatingPoint:
    from .crossval import validation_operating_point

    return validation_operating_point(
        table,
        "scaled",
        ck.model,
        ck.temperature,
        dict(ck.preprocessing),
        split.samples,
        split.val_idx,
        what=split.description,
    )


def fit_checkpoint(path: str | Path, out: str | Path, *, version: str | None = None) -> dict:
    """Write ``out``: ``path``'s weights with an operating point and domain reference fitted on its own data."""
    ck = load_checkpoint(path)
    table = idb1_cells(size=int(ck.preprocessing.input_size))
    split = checkpoint_split(ck, table)
    predictor = Predictor(ck, device=torch.device("cpu"), path=Path(path))
    op = fit_operating_point(ck, table, split)
    smears = split.train_smears + split.val_smears
    observed = observe_smears(predictor, smears)
    ref = fit_domain(predictor, split, observed, split.val_smears)
    version = version or f"{ck.version}+ref"
    prep = ck.preprocessing.with_(operating_point=op, domain=ref.to_dict())
    provenance = {"from_version": ck.version, "split": split.description}
    digest = checkpoint_derive(ck, out, preprocessing=prep, version=version, extra={"fitted_reference": provenance})
    if digest != ck.sha256:
        raise RuntimeError("the weights changed while fitting the reference")
    return {
        "out": str(out),
        "version": version,
        "sha256": digest,
        "operating_point": op.to_dict(),
        "domain_thresholds": ref.thresholds,
        "domain_fitted_on": ref.fitted_on,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m inference.fit_reference", description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--out", required=True)
    ap.add_argument("--version", help="version of the written checkpoint (default: <version>+ref)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        print(json.dumps(fit_checkpoint(args.checkpoint, args.out, version=args.version), indent=1))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
