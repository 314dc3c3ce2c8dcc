"""Does a smear look like what the model was validated on? The domain check stored in each checkpoint.

Two kinds of evidence, each turned into a ratio (value / threshold; above 1 is outside):

* ``features``: the Mahalanobis distance of a cell's pooled network features to the nearest class mean of
  the training cells, with one shared, shrunk covariance (Lee et al., 2018). Per cell, and per smear as the
  median over its cells.
* ``stain``, ``scale``, ``focus``: the smear's LAB mean and std (6 numbers), its red-cell diameter in pixels
  (one-sided: only too *few* pixels per red cell loses information; a larger one is scaled down) and its
  focus (log variance of the Laplacian, one-sided: only blur), as z-scores against the training smears.

Thresholds are quantiles (default the 99th percentile) of the same quantities on held-out in-domain data,
never on the data a threshold is judged on; the image checks (z-scores) are never tighter than 3 standard
deviations (``Z_FLOOR``), fixed before any measurement: a few held-out smears say little about a tail.

A smear is flagged when *any* of its four checks is out, so four checks each at the 99th percentile flag up to
about 4% of in-domain smears, and more with few held-out smears: a new smear exceeds the largest of n held-out
values with probability 1 / (n + 1), per check. So the smear thresholds are then scaled together
(``joint_scale``) until the same quantile holds for the smear's largest ratio over the checks: the family of
checks, not each check, is held at 1 - quantile on the held-out smears. ``fit_reference`` and
``with_thresholds`` build the reference; the engine only reads it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

IMAGE_STATS = ("lab_mean_l", "lab_mean_a", "lab_mean_b", "lab_std_l", "lab_std_a", "lab_std_b", "log_rbc", "log_focus")
REASONS = ("features", "stain", "scale", "focus")
SMEAR_CHECKS = ("smear_features", "stain", "scale", "focus")  # the thresholds the joint scale applies to
SHRINKAGE = 0.1  # covariance shrinkage towards its mean variance: ~1000 cells for 128 features is not many
QUANTILE = 0.99
Z_FLOOR = 3.0  # the stain / scale / focus checks never flag a smear within 3 standard deviations of the reference


@dataclass(frozen=True)
class DomainResult:
    """One cell's or one smear's domain check: ``score`` > 1 means outside, ``reasons`` say which check."""

    score: float
    in_domain: bool
    reasons: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"score": round(float(self.score), 3), "in_domain": self.in_domain, "reasons": list(self.reasons)}


def smear_stats(*, lab: Mapping[str, Sequence[float]], rbc_diameter_px: float, focus: float) -> np.ndarray:
    """The (8,) image statistics of one smear, in ``IMAGE_STATS`` order."""
    return np.array(
        [*lab["mean"], *lab["std"], np.log(max(rbc_diameter_px, 1e-3)), np.log(max(focus, 1e-6))], np.float64
    )


@dataclass(frozen=True)
class DomainReference:
    """What the training data looked like, and where "unlike it" starts."""

    feature_means: np.ndarray  # (K, C): one mean per class (or one for unlabelled lab data)
    feature_precision: np.ndarray  # (C, C): inverse of the shared, shrunk covariance
    image_mean: np.ndarray  # (8,) over the reference smears, IMAGE_STATS order
    image_std: np.ndarray  # (8,)
    thresholds: dict[str, float] = field(default_factory=dict)  # "cell_features", "smear_features", stain, ...
    fitted_on: str = ""

    # ------------------------------------------------------------ scores

    def feature_distance(self, pooled: np.ndarray) -> np.ndarray:
        """(N, C) pooled features -> (N,) Mahalanobis distance to the nearest mean."""
        x = np.asarray(pooled, np.float64)
        if len(x) == 0:
            return np.zeros(0)
        d = x[:, None, :] - self.feature_means[None, :, :]  # (N, K, C)
        # (d P) . d as one matrix product: a three-operand einsum loops in C over N*K*C*C (72 ms for 16 cells at
        # C = 1280, EfficientNet's features), the product runs in BLAS (under 5 ms).
        m = np.einsum("nkc,nkc->nk", d @ self.feature_precision, d)
        return np.sqrt(np.maximum(m.min(axis=1), 0.0))

    def image_values(self, stats: np.ndarray) -> dict[str, float]:
        """The stain / scale / focus check values of one smear (z-scores; scale and focus one-sided)."""
        z = (np.asarray(stats, np.float64) - self.image_mean) / self.image_std
        return {"stain": float(np.abs(z[:6]).max()), "scale": float(-z[6]), "focus": float(-z[7])}

    def _ratio(self, key: str, value: float) -> float:
        t = self.thresholds.get(key)
        return float(value / t) if t and t > 0 else 0.0

    def assess(
        self, *, pooled: np.ndarray, stats: np.ndarray
    ) -> tuple[list[DomainResult], DomainResult, dict[str, float]]:
        """Per-cell results, the smear's result, and the raw values behind them."""
        dist = self.feature_distance(pooled)
        values = self.image_values(stats)
        image_ratios = {k: self._ratio(k, v) for k, v in values.items()}
        smear_ratios = dict(image_ratios)
        if len(dist):
            values["features"] = float(np.median(dist))
            smear_ratios["features"] = self._ratio("smear_features", values["features"])
        smear = _result(smear_ratios)
        cells = [_result({**image_ratios, "features": self._ratio("cell_features", float(d))}) for d in dist]
        return cells, smear, values

    # ------------------------------------------------------------ storage

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature_means": self.feature_means.tolist(),
            "feature_precision": _pack_symmetric(self.feature_precision),
            "image_mean": self.image_mean.tolist(),
            "image_std": self.image_std.tolist(),
            "thresholds": {k: float(v) for k, v in self.thresholds.items()},
            "fitted_on": self.fitted_on,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DomainReference:
        return cls(
            feature_means=np.asarray(d["feature_means"], np.float64),
            feature_precision=_unpack_symmetric(d["feature_precision"]),
            image_mean=np.asarray(d["image_mean"], np.float64),
            image_std=np.asarray(d["image_std"], np.float64),
            thresholds=dict(d.get("thresholds", {})),
            fitted_on=str(d.get("fitted_on", "")),
        )


def _pack_symmetric(m: np.ndarray) -> dict[str, Any]:
    """A symmetric (C, C) matrix as its upper triangle in float32 bytes: a quarter of the size of a list of
    floats (3.3 MB instead of 13 MB for EfficientNet's 1280 features), and loadable with ``weights_only``."""
    n = int(m.shape[0])
    return {"n": n, "upper_float32": np.asarray(m, np.float32)[np.triu_indices(n)].tobytes()}


def _unpack_symmetric(value: Any) -> np.ndarray:
    """Inverse of ``_pack_symmetric``; also reads the nested lists that checkpoints before it stored."""
    if not isinstance(value, Mapping):
        return np.asarray(value, np.float64)
    n = int(value["n"])
    m = np.zeros((n, n), np.float64)
    m[np.triu_indices(n)] = np.frombuffer(value["upper_float32"], np.float32)
    return m + np.triu(m, 1).T


def _result(ratios: Mapping[str, float]) -> DomainResult:
    out = tuple(k for k in REASONS if ratios.get(k, 0.0) > 1.0)
    return DomainResult(score=max(ratios.values(), default=0.0), in_domain=not out, reasons=out)


def fit_reference(
    *, pooled: np.ndarray, labels: np.ndarray | None, stats: np.ndarray, fitted_on: str
) -> DomainReference:
    """Fit means and shared covariance on (N, C) cell features (per class when labels are given, else one
    component) and the image-statistics mean/std on (S, 8) smear stats. Thresholds come later
    (``with_thresholds``), from held-out data."""
    x = np.asarray(pooled, np.float64)
    groups = [x] if labels is None else [x[np.asarray(labels) == c] for c in np.unique(labels)]
    groups = [g for g in groups if len(g)]
    means = np.stack([g.mean(0) for g in groups])
    centred = np.concatenate([g - g.mean(0) for g in groups])
    cov = centred.T @ centred / max(1, len(centred) - len(groups))
    cov = (1 - SHRINKAGE) * cov + SHRINKAGE * np.trace(cov) / cov.shape[0] * np.eye(cov.shape[0])
    s = np.asarray(stats, np.float64).reshape(-1, len(IMAGE_STATS))
    std = s.std(0) if len(s) > 1 else np.ones(len(IMAGE_STATS))
    return DomainReference(
        feature_means=means,
        feature_precision=np.linalg.pinv(cov),
        image_mean=s.mean(0),
        image_std=np.maximum(std, 1e-3),
        fitted_on=fitted_on,
    )


def with_thresholds(
    reference: DomainReference,
    *,
    cell_pooled: np.ndarray,
    smear_pooled: Sequence[np.ndarray],
    smear_stats_rows: np.ndarray,
    quantile: float = QUANTILE,
    note: str = "",
    joint: bool = True,
) -> DomainReference:
    """Set every threshold at ``quantile`` of held-out in-domain data: cells, and smears (each smear's cells).

    With ``joint`` (the default) the smear thresholds (features, stain, scale, focus) are then multiplied by
    ``joint_scale``, the ``quantile`` of the held-out smears' largest ratio over the four checks (never below 1):
    the smear flag, which fires on any check, is held at that quantile as one test. The per-cell feature
    threshold stays the single check's quantile."""
    cell = reference.feature_distance(cell_pooled)
    per_smear = [float(np.median(reference.feature_distance(p))) if len(p) else None for p in smear_pooled]
    medians = [m for m in per_smear if m is not None]
    image = [reference.image_values(s) for s in np.asarray(smear_stats_rows).reshape(-1, len(IMAGE_STATS))]
    thresholds = {
        "cell_features": float(np.quantile(cell, quantile)),
        "smear_features": float(np.quantile(medians, quantile)) if medians else float(np.quantile(cell, 0.5)),
    }
    for key in ("stain", "scale", "focus"):
        vals = [v[key] for v in image]
        # z-scores: a quantile of a few held-out smears underestimates the tail (and a one-sided check whose
        # held-out values all sit on the good side has none), so never closer than Z_FLOOR standard deviations
        thresholds[key] = max(float(np.quantile(vals, quantile)), Z_FLOOR) if vals else Z_FLOOR
    if joint and image:
        if len(per_smear) != len(image):  # the joint scale needs each smear's feature median beside its image values
            raise ValueError(
                f"{len(per_smear)} smears' features but {len(image)} smears' statistics: pass them in step"
            )
        thresholds = _joint(thresholds, per_smear, image, quantile)
    fitted = reference.fitted_on + (f"; thresholds: {note}" if note else "")
    return replace(reference, thresholds=thresholds, fitted_on=fitted)


def _joint(
    thresholds: dict[str, float],
    medians: Sequence[float | None],
    image: Sequence[Mapping[str, float]],
    quantile: float,
) -> dict[str, float]:
    """``thresholds`` with the smear checks scaled by the ``quantile`` of each held-out smear's largest ratio."""
    largest = []
    for median, values in zip(medians, image, strict=True):
        ratios = [values[k] / thresholds[k] for k in ("stain", "scale", "focus") if thresholds[k] > 0]
        if median is not None and thresholds["smear_features"] > 0:
            ratios.append(median / thresholds["smear_features"])
        largest.append(max(ratios, default=0.0))
    scale = max(1.0, float(np.quantile(largest, quantile)))
    out = {k: v * scale if k in SMEAR_CHECKS else v for k, v in thresholds.items()}
    out["joint_scale"] = scale
    return out


def fit_on_smears(
    fit_pooled: Sequence[np.ndarray],
    fit_stats: Sequence[np.ndarray],
    held_pooled: Sequence[np.ndarray],
    held_stats: Sequence[np.ndarray],
    *,
    fit_labels: Sequence[np.ndarray] | None = None,
    quantile: float = QUANTILE,
    fitted_on: str,
    note: str = "",
) -> DomainReference:
    """A reference fitted on some smears (per smear: (N, C) pooled features, (8,) stats, optional (N,) labels)
    with thresholds at ``quantile`` of *other*, held-out smears. Raises ValueError without cells to fit on."""
    keep = [i for i, p in enumerate(fit_pooled) if len(p)]
    if not keep:
        raise ValueError("no cell on the smears to fit the domain reference on")
    pooled = np.concatenate([fit_pooled[i] for i in keep])
    labels = None if fit_labels is None else np.concatenate([np.asarray(fit_labels[i]) for i in keep])
    ref = fit_reference(pooled=pooled, labels=labels, stats=np.stack(list(fit_stats)), fitted_on=fitted_on)
    held = [p for p in held_pooled if len(p)]
    if not held or not len(held_stats):
        raise ValueError("no held-out smear with cells to set the domain thresholds on")
    return with_thresholds(
        ref,
        cell_pooled=np.concatenate(held),
        smear_pooled=list(held_pooled),  # in step with held_stats; a smear without cells has no feature median
        smear_stats_rows=np.stack(list(held_stats)),
        quantile=quantile,
        note=note or f"q{quantile:g} of {len(held_stats)} held-out smears",
    )
