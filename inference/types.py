"""The dataclasses that cross from ``inference`` to its callers (CLI, worker, web app).

They hold plain numbers and numpy arrays only, so the worker can store them and the CLI can print them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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


@dataclass(frozen=True)
class Summary:
    """The slide-level numbers, computed once here and stored, so every page and report agrees."""

    n_cells: int
    n_blast: int
    blast_fraction: float
    blast_fraction_ci95: tuple[float, float]
    max_p_blast: float
    call: str  # "suspicious" | "negative" | "insufficient"

    def to_json(self) -> dict:
        return {
            "n_cells": self.n_cells,
            "n_blast": self.n_blast,
            "blast_fraction": round(self.blast_fraction, 4),
            "blast_fraction_ci95": [round(self.blast_fraction_ci95[0], 4), round(self.blast_fraction_ci95[1], 4)],
            "max_p_blast": round(self.max_p_blast, 4),
            "call": self.call,
        }


@dataclass(frozen=True)
class CellResult:
    """A segmented cell with its classification."""

    region: CellRegion
    p_blast: float  # calibrated probability that the cell is a leukemic blast
    crop: np.ndarray = field(repr=False, compare=False)  # (H, W, 3) uint8 RGB, cell centred
    heatmap: np.ndarray | None = field(default=None, repr=False, compare=False)  # (h, w) float32 in [0, 1]

    def to_json(self) -> dict:
        return {**self.region.to_json(), "p_blast": round(self.p_blast, 4)}


@dataclass(frozen=True)
class SmearResult:
    """Everything the predictor knows about one smear."""

    segmentation: Segmentation
    cells: list[CellResult]
    summary: Summary
    model_name: str
    model_version: str
    timings_ms: dict[str, float]

    def to_json(self) -> dict:
        seg = self.segmentation.to_json()
        seg["cells"] = [c.to_json() for c in self.cells]
        return {
            **seg,
            "summary": self.summary.to_json(),
            "model": {"name": self.model_name, "version": self.model_version},
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }
