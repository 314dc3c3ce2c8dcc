"""The operating point: when a cell counts as a blast and when a slide is suspicious (torch-free, so the web
app's summary code can read it).

It is chosen on validation data by ``inference.training.operating`` and stored in the checkpoint's
``Preprocessing``; ``inference.summary`` applies it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class OperatingPoint:
    """When a cell counts as a blast and when a slide is suspicious.

    Chosen on validation data for a stated cell sensitivity at the best specificity that allows
    (``inference.training.operating``), and stored in the checkpoint. ``chosen_on`` says on what.
    """

    cell_threshold: float
    min_blasts: int = 1  # a slide with at least this many blast cells is suspicious
    target_sensitivity: float | None = None
    val_sensitivity: float | None = None  # measured at cell_threshold on the data it was chosen on
    val_specificity: float | None = None
    chosen_on: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OperatingPoint:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


# Checkpoints from before operating points were stored (0.3.0 and older) were used at p >= 0.5 and one blast:
# the only place that number lives.
LEGACY_OPERATING_POINT = OperatingPoint(
    cell_threshold=0.5, min_blasts=1, chosen_on="legacy default: not chosen on data (checkpoint predates it)"
)
