"""Framework-free image analysis for ALL-Lab: read smears, find white cells, classify them.

Nothing here imports Django, Celery or ``alllab``: the web app adapts these dataclasses,
never the other way round (``tests/test_boundary.py`` enforces it).
"""

import os
from pathlib import Path

DATASETS_ENV = "ALLLAB_DATASETS"
# The shipped checkpoint: the one default, for the predictor and for the web app's readiness check (torch-free).
DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "efficientnet_lite0.pt"


def datasets_root() -> Path:
    """Where the shared datasets live: ``$ALLLAB_DATASETS`` or ``../shared/datasets`` beside the project."""
    default = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"
    return Path(os.environ.get(DATASETS_ENV, default))
