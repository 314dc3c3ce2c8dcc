"""The signed result of a case as plain data: what the LIS, the JSON API and the PDF report as *the* result.

It is read from the latest signed ``ReportVersion.snapshot`` only (never from live counts), so every output says
exactly what the pathologist signed. Before sign-off there is none: every output is preliminary and carries only the
automated pre-classification.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class DifferentialRow:
    """One reviewer class of the signed differential."""

    label: str  # a review.ReviewLabel value
    display: str
    count: int
    white: bool  # part of the white-cell denominator (smudge/artefact and unsure are counted, not in a percentage)
    percent: float | None  # of the white cells, rounded to 0.01; None for a class outside the denominator

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "display": self.display,
            "count": self.count,
            "white": self.white,
            "percent": self.percent,
        }


@dataclass(frozen=True)
class SignedResult:
    """The reviewed, signed values of one report version."""

    version: int
    status: str  # "final" | "amended"
    signed_at: datetime
    signed_by: str
    signed_by_role: str
    n_cells_reviewed: int  # every cell given a class, smudge/artefact and unsure included
    n_white_cells: int  # the differential's denominator
    n_blast: int
    blast_fraction: float  # in [0, 1]
    blast_fraction_ci95: tuple[float, float]
    differential: tuple[DifferentialRow, ...]
    interpretation_code: str
    interpretation_display: str
    interpretation_text: str
    amendment_reason: str
    below_minimum: bool  # fewer white cells reviewed than a manual differential should have
    min_cells: int

    @property
    def white_rows(self) -> tuple[DifferentialRow, ...]:
        return tuple(r for r in self.differential if r.white)

    @property
    def other_rows(self) -> tuple[DifferentialRow, ...]:
        return tuple(r for r in self.differential if not r.white)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "source": "review",
            "version": self.version,
            "signed_at": self.signed_at.isoformat(),
            "signed_by": self.signed_by,
            "signed_by_role": self.signed_by_role,
            "n_cells_reviewed": self.n_cells_reviewed,
            "n_white_cells": self.n_white_cells,
            "n_blast": self.n_blast,
            "blast_fraction": round(self.blast_fraction, 4),
            "blast_fraction_ci95": [round(x, 4) for x in self.blast_fraction_ci95],
            "differential": [r.to_json() for r in self.differential],
            "interpretation": {
                "code": self.interpretation_code,
                "display": self.interpretation_display,
                "text": self.interpretation_text,
            },
            "amendment_reason": self.amendment_reason,
            "below_minimum": self.below_minimum,
            "min_cells": self.min_cells,
        }


def signed_result_from_snapshot(snapshot: dict[str, Any]) -> SignedResult:
    """The signed result frozen in a report version's snapshot (see ``review.services._freeze``)."""
    counts = snapshot["counts"]
    summary = counts["reviewed_summary"]
    n_white = int(counts["n_white_reviewed"])
    rows = tuple(
        DifferentialRow(
            label=row["label"],
            display=row["display"],
            count=int(row["reviewed"]),
            white=bool(row["white"]),
            percent=row["reviewed_pct"] if row["white"] else None,
        )
        for row in counts["differential"]
    )
    lo, hi = summary["blast_fraction_ci95"]
    interpretation = snapshot["interpretation"]
    return SignedResult(
        version=int(snapshot["version"]),
        status=str(snapshot["status"]),
        signed_at=datetime.fromisoformat(snapshot["signed_at"]),
        signed_by=str(snapshot.get("signed_by", "")),
        signed_by_role=str(snapshot.get("signed_by_role", "")),
        n_cells_reviewed=int(counts["n_reviewed"]),
        n_white_cells=n_white,
        n_blast=int(summary["n_blast"]),
        blast_fraction=float(summary["blast_fraction"]),
        blast_fraction_ci95=(float(lo), float(hi)),
        differential=rows,
        interpretation_code=str(interpretation["code"]),
        interpretation_display=str(interpretation["display"]),
        interpretation_text=str(interpretation.get("text", "")),
        amendment_reason=str(snapshot.get("amendment_reason", "")),
        below_minimum=bool(counts.get("below_minimum", False)),
        min_cells=int(counts.get("min_cells", 0)),
    )
