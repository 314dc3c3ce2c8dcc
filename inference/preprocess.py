"""What a crop goes through between the smear and the network, and how its probability becomes a call.

``Preprocessing`` is defined here once and stored in every checkpoint (as its ``to_dict`` form): input
size, mean/std, the Reinhard stain target, the operating point and the domain reference. The same
functions run at training time (``inference.training``) and at prediction time, driven by it, so the two
cannot drift apart. It reads like the dict it replaces (``prep["input_size"]``, ``prep.get("stain")``,
``dict(prep)``), so training code that builds dicts keeps working; ``Preprocessing.coerce`` turns either
into the typed form.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import torch

from .operating import LEGACY_OPERATING_POINT, OperatingPoint
from .segmentation.crop import square_resize
from .stain import reinhard

# ImageNet-free defaults measured on nothing in particular: the network is trained from scratch, so
# mean/std only need to centre the inputs; they travel in the checkpoint anyway.
DEFAULT_PREPROCESSING = {"input_size": 96, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "stain": None}


@dataclass(frozen=True)
class Preprocessing(Mapping[str, Any]):
    """Everything between a crop and the network's input, plus how outputs become calls; one per checkpoint."""

    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    stain: dict[str, Any] | None = None  # Reinhard target, OpenCV 8-bit LAB: {"mean": [3], "std": [3], ["statistic"]}
    operating_point: OperatingPoint = LEGACY_OPERATING_POINT
    domain: dict[str, Any] | None = field(default=None, compare=False)  # ``inference.domain.DomainReference``

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers only (checkpoints load with ``weights_only=True``)."""
        return {
            "input_size": int(self.input_size),
            "mean": [float(v) for v in self.mean],
            "std": [float(v) for v in self.std],
            "stain": self.stain,
            "operating_point": self.operating_point.to_dict(),
            "domain": self.domain,
        }

    @classmethod
    def coerce(cls, value: Preprocessing | Mapping[str, Any]) -> Preprocessing:
        """The typed form of ``value``; an old checkpoint's dict (no operating point) gets the legacy one."""
        if isinstance(value, Preprocessing):
            return value
        op = value.get("operating_point")
        return cls(
            input_size=int(value["input_size"]),
            mean=tuple(float(v) for v in value["mean"]),  # type: ignore[arg-type]
            std=tuple(float(v) for v in value["std"]),  # type: ignore[arg-type]
            stain=value.get("stain"),
            operating_point=OperatingPoint.from_dict(op) if op else LEGACY_OPERATING_POINT,
            domain=value.get("domain"),
        )

    def with_(self, **changes: Any) -> Preprocessing:
        """A copy with some fields replaced (a lab's stain target, operating point or domain reference)."""
        return replace(self, **changes)

    # Mapping: read like the dict it replaces.
    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(fields(self))


def normalise_stain(crop: np.ndarray, stats: dict | None, preprocessing: Mapping[str, Any]) -> np.ndarray:
    """Apply the checkpoint's Reinhard target when it has one and the smear's stats are known."""
    target = preprocessing.get("stain")
    if target is None or stats is None:
        return crop
    return reinhard(crop, stats, target)


def to_tensor(crops: list[np.ndarray], preprocessing: Mapping[str, Any]) -> torch.Tensor:
    """uint8 RGB crops -> (B, 3, S, S) float tensor, resized and normalised as the checkpoint says."""
    size = int(preprocessing["input_size"])
    mean = np.asarray(preprocessing["mean"], np.float32)
    std = np.asarray(preprocessing["std"], np.float32)
    batch = np.empty((len(crops), size, size, 3), np.float32)
    for i, c in enumerate(crops):
        if c.ndim != 3 or c.shape[2] != 3 or c.dtype != np.uint8:
            raise ValueError(f"crop {i}: want (H, W, 3) uint8 RGB, got {c.shape} {c.dtype}")
        if c.shape[:2] != (size, size):
            c = square_resize(c, size)
        batch[i] = c
    batch = (batch / 255.0 - mean) / std
    return torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous()  # (B, 3, S, S)
