"""The rules of lab adaptation that need no torch: how much reviewed data is enough, and the activation gate's text.

Kept apart from ``adaptation`` (which loads the engine) so the web process can refuse a request and state the rules
without importing torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Requirements:
    """How much reviewed data an adaptation needs, and how much of it is held out."""

    min_cases: int
    min_cells_per_class: int
    heldout_fraction: float = 1 / 3


class AdaptationRefused(Exception):
    """Not enough reviewed cells (or not splittable by case); the message says how many more are needed."""


# (metric, rule) pairs of the activation gate; ``adaptation.gate`` applies them, the page states them.
GATE_RULES = (
    ("auroc", "AUROC on the held-out cells is not lower than the base model's"),
    ("sensitivity", "sensitivity at the operating point on the held-out cells is not lower than the base model's"),
)


def adaptation_requirements() -> Requirements:
    """The minimum reviewed data, from settings."""
    return Requirements(
        min_cases=settings.ALLLAB_ADAPT_MIN_CASES, min_cells_per_class=settings.ALLLAB_ADAPT_MIN_CELLS_PER_CLASS
    )


def adaptation_shortfall(*, labels: Sequence[int], case_ids: Sequence, requirements: Requirements) -> list[str]:
    """What is missing before an adaptation may start, in words ("3 more cases ..."); empty when enough."""
    missing = []
    n_cases = len(set(case_ids))
    if n_cases < requirements.min_cases:
        missing.append(
            f"{requirements.min_cases - n_cases} more case(s) with reviewed white cells "
            f"(have {n_cases}, need {requirements.min_cases})"
        )
    for value, name in ((1, "blast"), (0, "normal")):
        have = sum(1 for label in labels if label == value)
        if have < requirements.min_cells_per_class:
            missing.append(
                f"{requirements.min_cells_per_class - have} more reviewed {name} cell(s) "
                f"(have {have}, need {requirements.min_cells_per_class})"
            )
    return missing
