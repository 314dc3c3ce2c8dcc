"""How much do k-fold accuracies spread from sampling alone? ``python -m inference.training.fold_noise``.

A classifier whose true accuracy is ``a`` gets each test crop right with probability ``a``, so a fold of ``n``
crops scores Binomial(n, a) / n even when the model is the same on every fold. This simulates many k-fold runs of
such a classifier and reports the fold standard deviation (sample std, as ``crossval`` reports it) that sampling
alone gives, and how often a run meets a target "mean >= m with std <= s". No data, no model: it judges what a
target asks of ALL-IDB2's 5 folds of 51-52 crops.

Example::

    python -m inference.training.fold_noise --accuracy 0.985 --fold-sizes 51 52 52 52 52 --target-mean 98.5 --target-std 1.2
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def simulate(accuracy: float, fold_sizes: list[int], *, runs: int = 100_000, seed: int = 0) -> np.ndarray:
    """(runs, folds) accuracies in percent of a classifier with the given true accuracy."""
    rng = np.random.default_rng(seed)
    sizes = np.asarray(fold_sizes)
    return 100.0 * rng.binomial(sizes, accuracy, size=(runs, len(sizes))) / sizes


def summarise(folds: np.ndarray, *, target_mean: float, target_std: float) -> dict:
    """The spread of the fold std, and the share of runs that meet the mean and std targets."""
    mean, std = folds.mean(1), folds.std(1, ddof=1)
    return {
        "fold_std_median": round(float(np.median(std)), 2),
        "fold_std_mean": round(float(std.mean()), 2),
        "fold_std_5_95": [round(float(q), 2) for q in np.percentile(std, [5, 95])],
        "p_std_at_most_target": round(float((std <= target_std + 1e-9).mean()), 3),
        "p_mean_at_least_target": round(float((mean >= target_mean - 1e-9).mean()), 3),
        "p_both": round(float(((std <= target_std + 1e-9) & (mean >= target_mean - 1e-9)).mean()), 3),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m inference.training.fold_noise", description=__doc__.split("\n\n")[0])
    ap.add_argument("--accuracy", type=float, nargs="+", default=[0.985], help="true accuracies to simulate (0-1)")
    ap.add_argument("--fold-sizes", type=int, nargs="+", default=[51, 52, 52, 52, 52])
    ap.add_argument("--target-mean", type=float, default=98.5, help="percent")
    ap.add_argument("--target-std", type=float, default=1.2, help="percentage points")
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rows = {
        f"{a:g}": summarise(
            simulate(a, args.fold_sizes, runs=args.runs, seed=args.seed),
            target_mean=args.target_mean,
            target_std=args.target_std,
        )
        for a in args.accuracy
    }
    print(
        json.dumps({"fold_sizes": args.fold_sizes, "runs": args.runs, "seed": args.seed, "by_accuracy": rows}, indent=1)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
