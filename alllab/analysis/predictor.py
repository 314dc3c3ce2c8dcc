"""What the app asks of a predictor: ``inference.predict.Predictor`` in the worker, a stub in the web-layer tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import numpy as np

from inference.types import SmearResult

# progress(stage, done, total): stage is "segment", "classify" or "heatmap" (as ``inference.predict.Progress``).
Progress = Callable[[str, int, int], None]


class PredictorLike(Protocol):
    """A loaded model that turns a smear into a ``SmearResult`` and names the weights that made it."""

    @property
    def model_name(self) -> str: ...

    @property
    def model_version(self) -> str: ...

    @property
    def model_sha256(self) -> str: ...

    def analyze(self, rgb: np.ndarray, *, with_heatmaps: bool = ..., progress: Progress | None = ...) -> SmearResult:
        """Analyse an (H, W, 3) uint8 RGB smear."""
        ...


if TYPE_CHECKING:
    from inference.predict import Predictor

    _checked: type[PredictorLike] = Predictor  # mypy: the worker's predictor is a PredictorLike
