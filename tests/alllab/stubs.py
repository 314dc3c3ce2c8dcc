"""A stand-in predictor for tests about the web layer (the integration test runs the real one)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from inference.summary import summarize
from inference.types import CellRegion, CellResult, Quality, Segmentation, SmearResult

if TYPE_CHECKING:
    from alllab.analysis.predictor import PredictorLike, Progress


class StubPredictor:
    """Returns one cell per entry of ``p_blasts``, laid out on a row, whatever the image."""

    model_name = "stub"
    model_version = "0.0-test"
    model_sha256 = "5" * 64

    def __init__(self, p_blasts: Iterable[float] = (0.9, 0.2, 0.1), *, flags: Iterable[str] = ()) -> None:
        self.p_blasts = list(p_blasts)
        self.flags = tuple(flags)
        self.calls = 0

    def analyze(self, rgb: np.ndarray, *, with_heatmaps: bool = True, progress: Progress | None = None) -> SmearResult:
        self.calls += 1
        h, w = rgb.shape[:2]
        if progress:
            progress("segment", 1, 1)
        cells = []
        for i, p in enumerate(self.p_blasts):
            x, y = 4 + 12 * i, 4
            contour = np.array([[x, y], [x + 10, y], [x + 10, y + 10], [x, y + 10]], np.int32)
            region = CellRegion(i, (x, y, 10, 10), (x + 5.0, y + 5.0), 100, False, contour)
            crop = np.full((16, 16, 3), 120, np.uint8)
            heat = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8) if with_heatmaps else None
            cells.append(CellResult(region=region, p_blast=p, crop=crop, heatmap=heat))
        quality = Quality(focus=100.0, stain={}, flags=self.flags)
        return SmearResult(
            segmentation=Segmentation(width=w, height=h, rbc_diameter_px=8.0, quality=quality, cells=[]),
            cells=cells,
            summary=summarize(self.p_blasts, quality),
            model_name=self.model_name,
            model_version=self.model_version,
            timings_ms={"total": 1.0},
        )


if TYPE_CHECKING:
    _checked: type[PredictorLike] = StubPredictor  # mypy: the stub is a PredictorLike
