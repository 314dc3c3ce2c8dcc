"""Is the model there? The analysis side of ``/readyz``, kept here because only ``alllab.analysis`` knows ``inference``.

The web process does not import torch, so it cannot verify a checkpoint's sha256 itself: it checks that the weights
file the workers will load is present and readable. A process that has loaded the predictor (a worker, or a web
process in development) reports the loaded model's name and version instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.conf import settings

import inference


def weights_path() -> Path:
    """The checkpoint the workers load: ``ALLLAB_WEIGHTS``, else the engine's shipped ``inference.DEFAULT_WEIGHTS``."""
    return Path(settings.ALLLAB_WEIGHTS) if settings.ALLLAB_WEIGHTS else inference.DEFAULT_WEIGHTS


def model_check() -> tuple[bool, str]:
    """(ok, detail) for the model: loaded in this process, or at least present on disk for the workers."""
    predict = sys.modules.get("inference.predict")  # only if something in this process already paid for torch
    path = weights_path()
    cached = predict.Predictor.loaded() if predict else []
    loaded = [p for p in cached if Path(p.path).resolve() == path.resolve()]
    if loaded:
        return True, f"loaded: {loaded[0].model_name} {loaded[0].model_version}"
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        return False, f"weights not readable: {path.name} ({exc.strerror or exc})"
    if not head:
        return False, f"weights file is empty: {path.name}"
    return True, f"weights present: {path.name} ({path.stat().st_size / 1e6:.1f} MB); workers verify the sha256 on load"
