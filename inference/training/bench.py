"""Speed benchmarks, one section per pipeline stage: ``python -m inference.bench [SECTION ...] --json``.

Sections register in ``SECTIONS`` (name -> function returning a JSON-able dict); running with no section
runs them all. ``segmentation`` times ``find_cells`` (image already decoded) and ``load_image`` separately,
on a 2592x1944 and a 1712x1368 ALL-IDB1 field and a 640x480 BCCD field when the datasets are present,
otherwise on synthetic smears of the same sizes (the output says which). Speed lives here, never in tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .. import datasets_root

# Fields per size: the first present is used. Chosen for being ordinary fields, not tuned for speed.
SEGMENTATION_FIELDS = {
    "2592x1944": ("ALL-IDB/ALL_IDB1/im/Im050_1.jpg", 2592, 1944, 85.0),
    "1712x1368": ("ALL-IDB/ALL_IDB1/im/Im010_1.jpg", 1712, 1368, 69.0),
    "640x480": ("BCCD/BCCD/JPEGImages/BloodImage_00000.jpg", 640, 480, 95.0),
}


def _median_ms(fn: Callable[[], object], repeats: int) -> dict:
    """Wall-clock and process-CPU milliseconds per call. On a shared machine the wall time includes waiting
    for a core; the CPU time (all threads of this process) is what one call costs when it has the cores."""
    fn()  # warm-up: first-call imports and allocations are not what a worker pays per image
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t0) * 1000.0)
        cpu.append((time.process_time() - c0) * 1000.0)
    return {
        "median_ms": round(statistics.median(wall), 1),
        "min_ms": round(min(wall), 1),
        "max_ms": round(max(wall), 1),
        "median_cpu_ms": round(statistics.median(cpu), 1),
        "repeats": repeats,
    }


def bench_segmentation(repeats: int) -> dict:
    """Median milliseconds for ``find_cells`` (both methods) and ``load_image`` per image size."""
    from ..io import load_image
    from ..segment import find_cells

    out = {}
    for label, (rel, width, height, rbc) in SEGMENTATION_FIELDS.items():
        path = datasets_root() / rel
        if path.exists():
            source = str(Path(rel))
            rgb = load_image(path)
            data = path.read_bytes()
            load = _median_ms(partial(load_image, data), repeats)
        else:
            from tests.inference.synthetic import make_smear  # only when the datasets are absent

            source = f"synthetic {width}x{height}, red cell {rbc} px"
            rgb = make_smear(width=width, height=height, rbc_diameter=rbc, n_single=8, n_pairs=2).rgb
            load = None
        out[label] = {
            "source": source,
            "find_cells_modified_across_fields": _across_fields(width, height),
            "find_cells_modified": _median_ms(partial(find_cells, rgb), repeats),
            "find_cells_kmeans": _median_ms(partial(find_cells, rgb, method="kmeans"), repeats),
            "load_image": load,
        }
    return out


# ---------------------------------------------------------------- classify (owned by the classifier engineer)

CLASSIFY_SMEAR = "ALL-IDB/ALL_IDB1/im/Im050_1.jpg"  # 2592x1944, an ordinary field


def bench_classify(repeats: int, model: Path | None = None) -> dict:
    """Milliseconds per cell for the shipped classifier at several batch sizes, and one 2592x1944 smear end to end
    (decode + segment + crop + classify, with and without Grad-CAM heatmaps). Synthetic when datasets are absent.
    ``model``: another checkpoint than the shipped one (``--model``).
    """
    import torch

    from ..io import load_image
    from ..predict import Predictor
    from ..segment import crop_cell, find_cells

    predictor = Predictor.load(model)
    path = datasets_root() / CLASSIFY_SMEAR
    if path.exists():
        source, data = CLASSIFY_SMEAR, path.read_bytes()
    else:
        from tests.inference.synthetic import make_smear  # only when the datasets are absent

        source = "synthetic 2592x1944, red cell 85 px"
        rgb = make_smear(width=2592, height=1944, rbc_diameter=85.0, n_single=12, n_pairs=2).rgb
        data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes()
    rgb = load_image(data)
    seg = find_cells(rgb)
    crops = [crop_cell(rgb, r, rbc_diameter_px=seg.rbc_diameter_px) for r in seg.cells]
    pool = [crops[i % len(crops)] for i in range(64)] if crops else []
    row: dict = {
        "source": source,
        "model": f"{predictor.model_name} {predictor.model_version}",
        "torch_threads": torch.get_num_threads(),
        "cells_on_smear": len(seg.cells),
    }
    for batch in (1, 16, 64):  # median_ms is per batch; ms_per_cell divides it by the batch size
        if pool:
            timing = _median_ms(partial(predictor.predict_crops, pool[:batch]), repeats)
            row[f"classify_batch_{batch}"] = {"ms_per_cell": round(timing["median_ms"] / batch, 2), **timing}
    row["smear_end_to_end"] = _median_ms(lambda: predictor.analyze(load_image(data), with_heatmaps=False), repeats)
    row["smear_end_to_end_heatmaps"] = _median_ms(lambda: predictor.analyze(load_image(data)), repeats)
    return {"2592x1944": row}


def _across_fields(width: int, height: int) -> dict | None:
    """Median over every dataset field of this size, one call each: fields differ (a blast cluster costs more
    than an empty field), so one field's median is not the whole story."""
    from ..io import load_image
    from ..segment import find_cells
    from .datasets import bccd_images, idb1_smears

    try:
        paths = [s.path for s in idb1_smears()] + [b.path for b in bccd_images()]
    except FileNotFoundError:
        return None
    wall, cpu, n = [], [], 0
    for path in paths:
        rgb = load_image(path)
        if rgb.shape[:2] != (height, width):
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        find_cells(rgb)
        wall.append((time.perf_counter() - t0) * 1000.0)
        cpu.append((time.process_time() - c0) * 1000.0)
        n += 1
    if not n:
        return None
    return {
        "fields": n,
        "median_ms": round(statistics.median(wall), 1),
        "p90_ms": round(float(np.percentile(wall, 90)), 1),
        "max_ms": round(max(wall), 1),
        "median_cpu_ms": round(statistics.median(cpu), 1),
    }


SECTIONS: dict[str, Callable[[int], dict]] = {"segmentation": bench_segmentation, "classify": bench_classify}


def main(argv: list[str] | None = None) -> int:
    """Run the chosen sections and print the results (JSON with ``--json``)."""
    parser = argparse.ArgumentParser(prog="python -m inference.bench", description=__doc__.split("\n")[0])
    parser.add_argument("sections", nargs="*", choices=[[], *SECTIONS], help="default: all")
    parser.add_argument("--segmentation", action="store_true", help="same as the 'segmentation' section")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print JSON (otherwise a short table)")
    parser.add_argument("--save", type=Path, help="also store the result under 'speed' in this JSON file")
    parser.add_argument("--model", type=Path, help="classify: this checkpoint instead of the shipped one")
    args = parser.parse_args(argv)
    sections: dict[str, Callable[[int], dict]] = {**SECTIONS, "classify": partial(bench_classify, model=args.model)}
    chosen = list(args.sections) + (["segmentation"] if args.segmentation else [])
    chosen = list(dict.fromkeys(chosen)) or list(SECTIONS)
    cv2.setNumThreads(os.cpu_count() or 1)
    result: dict[str, Any] = {
        "command": "python -m inference.bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()} {os.cpu_count()}-core CPU, Python {platform.python_version()}, "
        f"OpenCV {cv2.__version__}, NumPy {np.__version__}",
        "load_average_1m_before": round(os.getloadavg()[0], 2),
        "sections": {name: sections[name](args.repeats) for name in chosen},
    }
    # Other jobs on the machine inflate wall times; the load average says how busy it was.
    result["load_average_1m_after"] = round(os.getloadavg()[0], 2)
    if args.save:
        from .eval_segmentation import update_json

        update_json(args.save, "speed", result)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        for name, section in result["sections"].items():
            print(f"[{name}]")
            for label, row in section.items():
                cells = {k: v for k, v in row.items() if isinstance(v, dict) and "median_cpu_ms" in v}
                print(
                    f"  {label:10s} "
                    + "  ".join(f"{k} {v['median_ms']:.0f} ms (cpu {v['median_cpu_ms']:.0f})" for k, v in cells.items())
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
