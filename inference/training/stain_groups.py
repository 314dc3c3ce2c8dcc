"""What do whole-smear colour statistics measure? ``python -m inference.training.stain_groups``.

Groups ALL-IDB1's smears by acquisition (image size) and diagnosis and prints each group's average LAB
statistics as ``inference.stain.lab_stats`` computes them: mean and std (what ``--stain-statistic moments``
matches) and median (what ``median`` matches). With ``--montage PNG`` it also writes scaled cell crops of each
group, as the classifier sees them under each statistic, to look at (the images are ALL-IDB's: keep the file out
of the repository).

Example::

    python -m inference.training.stain_groups --out docs/results/stain_groups.json --montage var/stain_groups.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from ..stain import reinhard, target_of
from .data import idb1_cells


def group_statistics(stats: dict[str, dict], smears: dict[str, dict]) -> dict[str, dict]:
    """{"<size> <ALL|healthy>": {"smears", "mean", "std", "median"}}: each statistic averaged over the group."""
    groups: dict[str, list[dict]] = {}
    for name, meta in smears.items():
        groups.setdefault(f"{meta['size']} {'ALL' if meta['label'] else 'healthy'}", []).append(stats[name])
    return {
        key: {
            "smears": len(v),
            **{k: np.round(np.mean([s[k] for s in v], axis=0), 1).tolist() for k in ("mean", "std", "median")},
        }
        for key, v in sorted(groups.items())
    }


def montage(table, *, per_row: int = 8, seed: int = 0) -> np.ndarray:
    """Rows of scaled crops (blasts, normal cells on healthy smears, normal cells on ALL smears) per acquisition,
    each row twice: normalised by moments, then by median, both to the 2592x1944 smears' average."""
    rng = np.random.default_rng(seed)
    train = [s for s, m in table.smears.items() if m["size"] == "2592x1944"]
    targets = [target_of([table.stats[s] for s in train], statistic) for statistic in ("moments", "median")]
    rows = []
    for size in ("2592x1944", "1712x1368"):
        for label, smear_label in ((1, 1), (0, 0), (0, 1)):
            idx = np.flatnonzero(
                (table.smear_size == size) & (table.label == label) & (table.smear_label == smear_label)
            )
            if len(idx) < per_row:
                continue
            pick = rng.choice(idx, per_row, replace=False)
            for target in targets:
                crops = [reinhard(table.crops["scaled"][i], table.stats[table.smear[i]], target) for i in pick]
                rows.append(np.hstack(crops))
    return np.vstack(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m inference.training.stain_groups", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help="write the group statistics here as JSON")
    ap.add_argument("--montage", type=Path, help="write crops of each group under both statistics (PNG)")
    args = ap.parse_args(argv)
    table = idb1_cells(size=128)
    result = {
        "command": "python -m inference.training.stain_groups " + " ".join(argv or []),
        "groups": group_statistics(table.stats, table.smears),
    }
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    if args.montage:
        args.montage.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(args.montage), cv2.cvtColor(montage(table), cv2.COLOR_RGB2BGR))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
