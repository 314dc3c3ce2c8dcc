"""Cost of one splitting stage: ``python bench/segmentation_stage.py [--image Im050_1] [--repeats 5]``.

Times ``find_cells`` on one ALL-IDB1 field with stage 5 (``cells.split_at_concavity``) off and on, alternately (off,
on, off, on) so drift in the machine's load shows as a difference between the two rounds of the same setting. CPU
time of the process with one OpenCV and one BLAS thread, median of ``--repeats`` calls after a warm-up: what a call
costs, not what a loaded machine makes it wait.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from inference import datasets_root  # noqa: E402
from inference.io import load_image  # noqa: E402
from inference.segmentation import cells  # noqa: E402
from inference.segmentation.pipeline import find_cells  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default="Im050_1")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    path = datasets_root() / "ALL-IDB" / "ALL_IDB1" / "im" / f"{args.image}.jpg"
    if not path.exists():
        print(f"no such field: {path} (set ALLLAB_DATASETS)", file=sys.stderr)
        return 2
    img = load_image(path)
    shipped = cells.CONCAVE_MIN_DEPTH_RBC
    for label, depth in (("off", 0.0), ("on", shipped), ("off", 0.0), ("on", shipped)):
        cells.CONCAVE_MIN_DEPTH_RBC = depth
        n = len(find_cells(img).cells)  # warm-up, and the cell count of this setting
        times = []
        for _ in range(args.repeats):
            t = time.process_time()
            find_cells(img)
            times.append(time.process_time() - t)
        print(f"stage 5 {label:3s}  {args.image}  cells {n}  median cpu {1000 * float(np.median(times)):.0f} ms")
    cells.CONCAVE_MIN_DEPTH_RBC = shipped
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
