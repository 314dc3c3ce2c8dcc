"""The worker's loaded models: a few predictors kept by the sha256 of their weights, least recently used first out.

A lab's model is asked for by its registered sha256 and loaded strictly: a file whose weights do not hash to the
registry's sha256 is refused, so a swapped or corrupted file never analyses a slide. The key is the content, not the
lab: two labs whose active rows name the same weights share one loaded copy, and a lab can only reach the weights its
own active row names (``labmodels.selectors.active_model_for_lab``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import torch

from inference.models import CheckpointError, load_checkpoint
from inference.predict import Predictor


class ModelCache:
    """At most ``size`` predictors, keyed by (sha256, device)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], Predictor] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0  # how many times a checkpoint was read from disk (a test and the logs read it)

    def get(self, *, path: str | Path, sha256: str, device: str = "cpu") -> Predictor:
        """The predictor for the weights ``sha256`` stored at ``path``, loading it on a miss.

        Raises:
            CheckpointError: missing or unreadable file, or weights that do not hash to ``sha256``.
        """
        key = (sha256, device)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            dev = torch.device(device)
            checkpoint = load_checkpoint(path, device=dev)
            if checkpoint.sha256 != sha256:
                raise CheckpointError(
                    f"{Path(path).name}: weights hash to {checkpoint.sha256[:12]}, the registry says {sha256[:12]}"
                )
            self.loads += 1
            predictor = Predictor(checkpoint, device=dev, path=Path(path))
            self._items[key] = predictor
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            return predictor

    def keys(self) -> list[str]:
        """The sha256 of each loaded model, least recently used first."""
        with self._lock:
            return [sha for sha, _ in self._items]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_CACHE: ModelCache | None = None


def model_cache(size: int) -> ModelCache:
    """The process's cache (created on first use with ``size``)."""
    global _CACHE
    if _CACHE is None:
        _CACHE = ModelCache(size)
    return _CACHE
