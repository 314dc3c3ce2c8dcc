"""Model builders and the checkpoint format.

A checkpoint is one ``torch.save`` dict holding the architecture name, its config, the preprocessing
(``inference.preprocess.Preprocessing``: input size, mean, std, stain target, operating point, domain
reference), class names, version, temperature, metrics, the state dict and a sha256 of that state. Loading
rebuilds the model from the stored config, loads strictly and refuses a checkpoint whose state does not
hash to the stored sha256. Format 1 checkpoints (no operating point; 0.3.0 and older, including the shipped
one before 0.3.1) are converted on load: their preprocessing gets the legacy operating point.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..preprocess import Preprocessing
from .base import CellClassifier
from .densenet import DenseNet, DenseNetConfig
from .efficientnet import EfficientNetLite0, EfficientNetLite2, EfficientNetLiteConfig
from .hybrid_vgg import HybridVGG, HybridVGGConfig
from .resnet import ResNet, ResNetConfig

FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)  # 1: preprocessing without operating point or domain reference


class CheckpointError(Exception):
    """A checkpoint file is missing, malformed, tampered with, or does not fit its architecture."""


def _build_hybrid_vgg(config: dict) -> CellClassifier:
    return HybridVGG(HybridVGGConfig.from_dict(config))


# name -> (builder taking the stored config dict, default config). The baselines are for cross-validation only.
ARCHITECTURES: dict[str, Callable[[dict], CellClassifier]] = {
    "hybrid_vgg": _build_hybrid_vgg,
    "resnet50": lambda config: ResNet(ResNetConfig.from_dict(config)),
    "densenet121": lambda config: DenseNet(DenseNetConfig.from_dict(config)),
    "efficientnet_lite0": lambda config: EfficientNetLite0(EfficientNetLiteConfig.from_dict(config)),
    "efficientnet_lite2": lambda config: EfficientNetLite2(EfficientNetLiteConfig.from_dict(config)),
}
DEFAULT_CONFIGS: dict[str, Callable[[], dict]] = {
    "hybrid_vgg": lambda: HybridVGGConfig().to_dict(),
    "resnet50": lambda: ResNetConfig().to_dict(),
    "densenet121": lambda: DenseNetConfig().to_dict(),
    "efficientnet_lite0": lambda: EfficientNetLiteConfig().to_dict(),
    "efficientnet_lite2": lambda: EfficientNetLiteConfig().to_dict(),
}


def build_model(*, arch: str, config: dict) -> CellClassifier:
    """Build an untrained model of architecture ``arch`` from its config dict."""
    if arch not in ARCHITECTURES:
        raise CheckpointError(f"unknown architecture {arch!r}; known: {sorted(ARCHITECTURES)}")
    try:
        return ARCHITECTURES[arch](config)
    except TypeError as exc:
        raise CheckpointError(f"config does not fit architecture {arch!r}: {exc}") from exc


def state_sha256(state: dict[str, torch.Tensor]) -> str:
    """sha256 over every tensor's name, dtype, shape and bytes, in key order (independent of pickling)."""
    h = hashlib.sha256()
    for key in sorted(state):
        t = state[key].detach().cpu().contiguous()
        h.update(key.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


@dataclass
class Checkpoint:
    """A loaded checkpoint: the ready model plus everything stored with it."""

    model: CellClassifier
    arch: str
    config: dict
    preprocessing: Preprocessing
    class_names: list[str]
    version: str
    temperature: float
    sha256: str
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    *,
    arch: str = "hybrid_vgg",
    config: dict,
    preprocessing: Preprocessing | dict,
    class_names: list[str],
    version: str,
    temperature: float = 1.0,
    metrics: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """Write a checkpoint (weights in float32) and return the sha256 of its state."""
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    digest = state_sha256(state)
    payload = {
        "format": FORMAT_VERSION,
        "arch": arch,
        "config": config,
        "preprocessing": Preprocessing.coerce(preprocessing).to_dict(),
        "class_names": list(class_names),
        "version": version,
        "temperature": float(temperature),
        "metrics": metrics or {},
        "extra": extra or {},
        "state_dict": state,
        "sha256": digest,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)  # never leave a half-written checkpoint where a worker might load it
    return digest


def checkpoint_derive(
    base: Checkpoint,
    out: str | Path,
    *,
    version: str,
    extra: dict[str, Any],
    model: nn.Module | None = None,
    preprocessing: Preprocessing | dict | None = None,
    class_names: list[str] | None = None,
    temperature: float | None = None,
    metrics: dict[str, Any] | None = None,
) -> str:
    """Write ``out``, a checkpoint derived from ``base``, and return the sha256 of its state.

    It keeps ``base``'s architecture and config, and its model, preprocessing, class names, temperature and metrics
    unless given; its ``extra`` is ``base.extra`` updated by ``extra`` (the derivation's provenance).
    """
    return save_checkpoint(
        out,
        base.model if model is None else model,
        arch=base.arch,
        config=base.config,
        preprocessing=base.preprocessing if preprocessing is None else preprocessing,
        class_names=base.class_names if class_names is None else class_names,
        version=version,
        temperature=base.temperature if temperature is None else temperature,
        metrics=base.metrics if metrics is None else metrics,
        extra={**base.extra, **extra},
    )


_REQUIRED = (
    "format",
    "arch",
    "config",
    "preprocessing",
    "class_names",
    "version",
    "temperature",
    "state_dict",
    "sha256",
)


def load_checkpoint(path: str | Path, *, device: str | torch.device = "cpu") -> Checkpoint:
    """Load a checkpoint strictly, verify its sha256 and return the model in eval mode on ``device``.

    Raises:
        CheckpointError: file missing or unreadable, keys missing, hash mismatch, or state not fitting the config.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt file; all mean the same to the caller
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(payload, dict) or any(k not in payload for k in _REQUIRED):
        missing = [k for k in _REQUIRED if not isinstance(payload, dict) or k not in payload]
        raise CheckpointError(f"{path} is not an ALL-Lab checkpoint (missing {missing})")
    if payload["format"] not in READABLE_FORMATS:
        raise CheckpointError(f"{path}: checkpoint format {payload['format']} not supported (want {READABLE_FORMATS})")
    state = payload["state_dict"]
    digest = state_sha256(state)
    if digest != payload["sha256"]:
        raise CheckpointError(f"{path}: sha256 mismatch (stored {payload['sha256'][:12]}, computed {digest[:12]})")
    model = build_model(arch=payload["arch"], config=payload["config"])
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit the stored config: {exc}") from exc
    model.to(device).eval()
    return Checkpoint(
        model=model,
        arch=payload["arch"],
        config=payload["config"],
        preprocessing=_preprocessing(path, payload["preprocessing"]),
        class_names=list(payload["class_names"]),
        version=str(payload["version"]),
        temperature=float(payload["temperature"]),
        sha256=digest,
        metrics=payload.get("metrics", {}),
        extra=payload.get("extra", {}),
    )


def _preprocessing(path: Path, stored: Any) -> Preprocessing:
    try:
        return Preprocessing.coerce(stored)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: malformed preprocessing: {exc}") from exc


__all__ = [
    "ARCHITECTURES",
    "DEFAULT_CONFIGS",
    "Checkpoint",
    "CellClassifier",
    "CheckpointError",
    "HybridVGG",
    "HybridVGGConfig",
    "build_model",
    "load_checkpoint",
    "save_checkpoint",
    "state_sha256",
]
