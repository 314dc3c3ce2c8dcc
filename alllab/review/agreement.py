"""Agreement between the model's labels and the reviewers', per model version: confusion matrix and Cohen's kappa.

Kappa is measured on the binary question the model answers (blast or not): a cell reviewed as any other white
cell is "not blast"; artefacts and unsure cells are shown in the matrix but left out of kappa, because the
model has no such class and the reviewer gave no blast/not-blast answer.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User

from alllab.accounts.models import ADMIN_ROLES
from alllab.accounts.scope import Scope, scope_role_lab_ids
from alllab.analysis.models import Cell
from alllab.review.models import WHITE_CELL_LABELS, CellReview, ReviewLabel

AI_LABELS = tuple(Cell.Label.values)  # blast, non_blast
# Every white class of the differential answers the model's question; blast is 1, any other white cell 0.
_BINARY: dict[str, int] = {label: int(label == ReviewLabel.BLAST) for label in WHITE_CELL_LABELS}


def cohen_kappa(pairs: list[tuple[int, int]]) -> float | None:
    """Cohen's kappa of two raters' 0/1 labels; None when undefined (no pairs, or both always gave one label)."""
    n = len(pairs)
    if n == 0:
        return None
    observed = sum(1 for a, b in pairs if a == b) / n
    a1 = sum(a for a, _ in pairs) / n
    b1 = sum(b for _, b in pairs) / n
    expected = a1 * b1 + (1 - a1) * (1 - b1)
    if expected == 1.0:
        return None
    return (observed - expected) / (1 - expected)


@dataclass(frozen=True)
class Agreement:
    """One model version's agreement with the reviewers."""

    model_name: str
    model_version: str
    matrix: list[dict]  # one row per AI label: {"ai": label, "counts": [n per ReviewLabel], "total": n}
    n_reviewed: int
    n_binary: int  # cells counted in kappa
    accuracy: float | None  # observed agreement on those cells
    kappa: float | None


def agreement_for(model_name: str, model_version: str, pairs: list[tuple[str, str]]) -> Agreement:
    """Agreement from ``(ai_label, review_label)`` pairs of one model version."""
    counts: dict[str, dict[str, int]] = {ai: defaultdict(int) for ai in AI_LABELS}
    binary = []
    for ai, reviewed in pairs:
        counts.setdefault(ai, defaultdict(int))[reviewed] += 1
        if reviewed in _BINARY:
            binary.append((1 if ai == Cell.Label.BLAST else 0, _BINARY[reviewed]))
    matrix = [
        {"ai": ai, "counts": [row[label] for label in ReviewLabel.values], "total": sum(row.values())}
        for ai, row in counts.items()
    ]
    accuracy = sum(1 for a, b in binary if a == b) / len(binary) if binary else None
    return Agreement(
        model_name=model_name,
        model_version=model_version,
        matrix=matrix,
        n_reviewed=len(pairs),
        n_binary=len(binary),
        accuracy=accuracy,
        kappa=cohen_kappa(binary),
    )


def agreement_by_model(*, scope: Scope, user: User | AnonymousUser) -> list[Agreement]:
    """Agreement per model version over every reviewed cell of the labs of ``scope`` that ``user`` administers."""
    rows = CellReview.objects.filter(
        cell__run__slide__case__lab_id__in=scope_role_lab_ids(scope=scope, user=user, roles=ADMIN_ROLES)
    ).values_list("cell__run__model_name", "cell__run__model_version", "cell__ai_label", "label")
    grouped: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for name, version, ai, reviewed in rows:
        grouped[(name, version)].append((ai, reviewed))
    return [agreement_for(name, version, pairs) for (name, version), pairs in sorted(grouped.items())]
