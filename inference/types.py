"""The dataclasses that cross from ``inference`` to its callers (CLI, worker, web app).

They hold plain numbers and numpy arrays only, so the worker can store them and the CLI can print them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .domain import DomainResult
from .operating import OperatingPoint


@dataclass(frozen=True)
class CellRegion:
    """One white cell found on a smear, in the smear's pixel coordinates."""

    id: int
    bbox: tuple[int, int, int, int]  # x, y, w, h
    centroid: tuple[float, float]  # x, y
    area_px: int
    touches_border: bool
    contour: np.ndarray = field(repr=False, compare=False)  # (N, 2) int32, x y

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "bbox": list(self.bbox),
            "centroid": [round(self.centroid[0], 1), round(self.centroid[1], 1)],
            "area_px": self.area_px,
            "touches_border": self.touches_border,
        }


@dataclass(frozen=True)
class Quality:
    """What a lab wants to know about a smear before trusting its cell count.

    ``flags`` holds short machine-readable reasons (``"too_few_cells"``, ``"out_of_focus"``,
    ``"stain_out_of_range"``); an empty tuple means nothing looked wrong.
    """

    focus: float  # variance of the Laplacian on the value channel
    stain: dict[str, float]  # e.g. median hue/saturation of the nuclei, of the background
    flags: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.flags

    def to_json(self) -> dict:
        return {"focus": round(self.focus, 2), "stain": self.stain, "flags": list(self.flags), "ok": self.ok}


@dataclass(frozen=True)
class Segmentation:
    """Every white cell found on one image, with the scale and quality it was measured at."""

    width: int
    height: int
    rbc_diameter_px: float
    quality: Quality
    cells: list[CellRegion]

    def to_json(self) -> dict:
        return {
            "width": self.width,
            "height": self.height,
            "rbc_diameter_px": round(self.rbc_diameter_px, 1),
            "quality": self.quality.to_json(),
            "cells": [c.to_json() for c in self.cells],
        }


# The call vocabulary; each call's label and explanation for people live in ``inference.summary.CALL_TEXT``.
CALLS: tuple[str, ...] = ("suspicious", "negative", "insufficient", "unvalidated")


@dataclass(frozen=True)
class Summary:
    """The slide- or case-level result, computed once here and stored, so every page and report agrees.

    The web app stores it as columns (``alllab.cases.summary_fields.SummaryFields``) and reads it back as this type;
    ``to_json`` / ``from_json`` are the one JSON shape (API, snapshots, the CLI).
    """

    n_cells: int
    n_blast: int
    blast_fraction: float  # in [0, 1], not percent
    blast_fraction_ci95: tuple[float, float]  # Wilson 95% interval
    max_p_blast: float
    call: str  # one of CALLS: "suspicious" | "negative" | "insufficient" | "unvalidated"
    flags: tuple[str, ...] = ()  # the quality flags the call was made with (a case: those shared by every slide)
    model_version: str = ""  # the model that produced the probabilities; "" when unknown or several

    def __post_init__(self) -> None:
        if self.call not in CALLS:
            raise ValueError(f"unknown call {self.call!r}; expected one of {CALLS}")
        if not 0.0 <= self.blast_fraction <= 1.0:
            raise ValueError(f"blast_fraction must be in [0, 1], got {self.blast_fraction}")

    def to_json(self) -> dict:
        return {
            "n_cells": self.n_cells,
            "n_blast": self.n_blast,
            "blast_fraction": round(self.blast_fraction, 4),
            "blast_fraction_ci95": [round(self.blast_fraction_ci95[0], 4), round(self.blast_fraction_ci95[1], 4)],
            "max_p_blast": round(self.max_p_blast, 4),
            "call": self.call,
            "flags": list(self.flags),
            "model_version": self.model_version,
        }

    @classmethod
    def from_json(cls, data: dict) -> Summary:
        """The inverse of ``to_json`` (up to its rounding); ``flags`` and ``model_version`` may be absent."""
        lo, hi = data["blast_fraction_ci95"]
        return cls(
            n_cells=int(data["n_cells"]),
            n_blast=int(data["n_blast"]),
            blast_fraction=float(data["blast_fraction"]),
            blast_fraction_ci95=(float(lo), float(hi)),
            max_p_blast=float(data["max_p_blast"]),
            call=str(data["call"]),
            flags=tuple(data.get("flags", ())),
            model_version=str(data.get("model_version", "")),
        )


@dataclass(frozen=True)
class CellResult:
    """A segmented cell with its classification."""

    region: CellRegion
    p_blast: float  # calibrated probability that the cell is a leukemic blast
    crop: np.ndarray = field(repr=False, compare=False)  # (H, W, 3) uint8 RGB, cell centred
    heatmap: np.ndarray | None = field(default=None, repr=False, compare=False)  # (h, w) float32 in [0, 1]
    domain: DomainResult | None = None  # None when the checkpoint carries no domain reference

    def to_json(self) -> dict:
        out = {**self.region.to_json(), "p_blast": round(self.p_blast, 4)}
        if self.domain is not None:
            out["domain"] = self.domain.to_json()
        return out


@dataclass(frozen=True)
class SmearResult:
    """Everything the predictor knows about one smear."""

    segmentation: Segmentation
    cells: list[CellResult]
    summary: Summary
    model_name: str
    model_version: str
    timings_ms: dict[str, float]
    domain: DomainResult | None = None  # the smear's domain check; out of domain makes the call "unvalidated"
    operating_point: OperatingPoint | None = None  # the checkpoint's: cell threshold and slide rule used

    def to_json(self) -> dict:
        seg = self.segmentation.to_json()
        seg["cells"] = [c.to_json() for c in self.cells]
        return {
            **seg,
            "summary": self.summary.to_json(),
            "model": {"name": self.model_name, "version": self.model_version},
            "domain": self.domain.to_json() if self.domain is not None else None,
            "operating_point": self.operating_point.to_dict() if self.operating_point is not None else None,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }
