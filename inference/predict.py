"""The predictor the worker, CLI and benchmarks call: smear in, ``SmearResult`` out.

``Predictor.load()`` reads the shipped checkpoint once per process (cached by path and device), and every
forward pass runs under ``torch.inference_mode()``. Probabilities are calibrated: ``sigmoid(logit / T)``
with the temperature stored in the checkpoint.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

from .calibrate import apply_temperature
from .data import center_crop, normalise_stain, to_tensor  # noqa: F401  (center_crop re-exported)
from .models import Checkpoint, load_checkpoint
from .models.hybrid_vgg import HybridVGG, fuse_for_inference
from .stain import lab_stats
from .summary import summarize
from .types import CellResult, SmearResult

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "hybrid_vgg.pt"
BATCH_SIZE = 64  # cells per forward pass; a 2592x1944 smear holds ~5-40 white cells

# progress(stage, done, total): stage is "segment", "classify" or "heatmap".
Progress = Callable[[str, int, int], None]

_CACHE: dict[tuple[str, str], Predictor] = {}
_CACHE_LOCK = threading.Lock()


def _resolve_device(device: str) -> torch.device:
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} asked for but CUDA is not available")
    return torch.device(device)


class Predictor:
    """A loaded classifier plus the pipeline around it (segmentation, crops, calibration, summary)."""

    def __init__(self, checkpoint: Checkpoint, *, device: torch.device, path: Path) -> None:
        self.checkpoint = checkpoint
        # conv + BN folded for speed; the checkpoint's own model stays as trained
        self.model = (
            fuse_for_inference(checkpoint.model) if isinstance(checkpoint.model, HybridVGG) else checkpoint.model
        )
        self.device = str(device)
        self.path = path
        self.model_name = checkpoint.arch
        self.model_version = checkpoint.version
        self.temperature = checkpoint.temperature
        self.preprocessing = checkpoint.preprocessing

    @classmethod
    def load(cls, path: str | Path | None = None, *, device: str = "cpu") -> Predictor:
        """The predictor for ``path`` (default: the shipped weights) on ``device``, loaded once per process.

        Raises:
            inference.models.CheckpointError: missing, tampered or mismatched checkpoint.
            RuntimeError: ``device="cuda"`` without CUDA.
        """
        resolved = Path(path).resolve() if path is not None else DEFAULT_WEIGHTS
        dev = _resolve_device(device)
        key = (str(resolved), str(dev))
        with _CACHE_LOCK:
            if key not in _CACHE:
                _CACHE[key] = cls(load_checkpoint(resolved, device=dev), device=dev, path=resolved)
            return _CACHE[key]

    # ------------------------------------------------------------ cells

    def _prepare(self, crops: list[np.ndarray], stain_stats: dict | list[dict] | None) -> torch.Tensor:
        ready = []
        for i, c in enumerate(crops):
            stats = stain_stats[i] if isinstance(stain_stats, list) else stain_stats
            if stats is None and self.preprocessing.get("stain"):
                stats = lab_stats(c)
            ready.append(normalise_stain(c, stats, self.preprocessing))
        return to_tensor(ready, self.preprocessing).to(self.device)

    def predict_logits(self, crops: list[np.ndarray], *, stain_stats: dict | list[dict] | None = None) -> np.ndarray:
        """Uncalibrated logits, (N,) float32."""
        out = []
        with torch.inference_mode():
            for start in range(0, len(crops), BATCH_SIZE):
                stats = stain_stats[start : start + BATCH_SIZE] if isinstance(stain_stats, list) else stain_stats
                x = self._prepare(crops[start : start + BATCH_SIZE], stats)  # (B, 3, S, S)
                out.append(self.model(x).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def predict_crops(self, crops: list[np.ndarray], *, stain_stats: dict | None = None) -> np.ndarray:
        """Calibrated p(blast) for each (H, W, 3) uint8 RGB crop, (N,) float64 in [0, 1].

        Args:
            crops: cell crops, cell centred (any size; resized to the checkpoint's input size).
            stain_stats: LAB stats of the smear the crops came from (``stain.lab_stats``); without them a
                stain-normalising checkpoint uses each crop's own stats.
        """
        return apply_temperature(self.predict_logits(crops, stain_stats=stain_stats), self.temperature)

    def predict_cells(self, images: list[np.ndarray], *, reframe: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated p(blast) for images of one white cell each, framed by someone else (another lab's crops).

        With ``reframe`` each image is re-cut around its centre cell at the training framing
        (``segment.reframe_cell``: a fixed number of red-cell diameters), so magnification and framing do not
        reach the classifier; an image where no cell is found is classified as it is. Stain statistics come
        from each whole image.

        Returns:
            p, (N,) float64 in [0, 1], and a bool array telling which images were re-cut.
        """
        from .segment import reframe_cell

        size = int(self.preprocessing["input_size"])
        crops, framed = [], []
        for rgb in images:
            if reframe:
                crop, seg = reframe_cell(rgb, out_size=size)
                crops.append(crop)
                framed.append(bool(seg.cells))
            else:
                crops.append(rgb)
                framed.append(False)
        stats = [lab_stats(rgb) for rgb in images] if self.preprocessing.get("stain") else None
        return self.predict_crops(crops, stain_stats=stats), np.array(framed, bool)

    def heatmaps(self, crops: list[np.ndarray], *, stain_stats: dict | None = None) -> list[np.ndarray]:
        """Grad-CAM of the blast logit on the second-to-last block (12x12 at 96 px input), resized to each crop.

        Grad-CAM rather than the raw spatial-attention gate because it says where the *blast* evidence is,
        and it works for the ablation variants without attention too.
        """
        out: list[np.ndarray] = []
        blocks = self.model.blocks
        for start in range(0, len(crops), BATCH_SIZE):
            chunk = crops[start : start + BATCH_SIZE]
            with torch.inference_mode():
                feats = blocks[:-1](self._prepare(chunk, stain_stats))  # (B, C, h, w)
            feats = feats.clone().requires_grad_(True)
            with torch.enable_grad():
                logits = self.model.forward_head(blocks[-1](feats))  # (B,)
                (grad,) = torch.autograd.grad(logits.sum(), feats)  # samples are independent in eval mode
            weights = grad.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
            cam = torch.relu((weights * feats).sum(1)).detach().cpu().numpy()  # (B, h, w)
            for c, m in zip(chunk, cam, strict=True):
                peak = float(m.max())
                m = m / peak if peak > 0 else np.zeros_like(m)
                out.append(cv2.resize(m.astype(np.float32), (c.shape[1], c.shape[0]), interpolation=cv2.INTER_LINEAR))
        return [np.clip(h, 0.0, 1.0).astype(np.float32) for h in out]

    def heatmap(self, crop: np.ndarray) -> np.ndarray:
        """(H, W) float32 in [0, 1]: where the blast evidence lies in one crop."""
        return self.heatmaps([crop])[0]

    # ------------------------------------------------------------ smears

    def analyze(self, rgb: np.ndarray, *, with_heatmaps: bool = True, progress: Progress | None = None) -> SmearResult:
        """Segment a smear, classify every white cell, summarise.

        Args:
            rgb: (H, W, 3) uint8 RGB smear (``inference.io.load_image``).
            with_heatmaps: also compute a Grad-CAM per cell (about as costly as classifying).
            progress: called as ``progress(stage, done, total)``.
        """
        from .segment import background_colour, crop_cell, find_cells

        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"want (H, W, 3) uint8 RGB, got {rgb.shape} {rgb.dtype}")
        report = progress or (lambda stage, done, total: None)
        t0 = time.perf_counter()
        report("segment", 0, 1)
        seg = find_cells(rgb)
        bg = background_colour(rgb)  # once per smear, not once per cell
        crops = [crop_cell(rgb, r, rbc_diameter_px=seg.rbc_diameter_px, background=bg) for r in seg.cells]
        report("segment", 1, 1)
        t1 = time.perf_counter()
        stats = lab_stats(rgb) if self.preprocessing.get("stain") else None
        p = self.predict_crops(crops, stain_stats=stats)
        report("classify", len(crops), len(crops))
        t2 = time.perf_counter()
        maps: list[np.ndarray | None] = [None] * len(crops)
        if with_heatmaps and crops:
            maps = list(self.heatmaps(crops, stain_stats=stats))
            report("heatmap", len(crops), len(crops))
        t3 = time.perf_counter()
        cells = [
            CellResult(region=r, p_blast=float(pb), crop=c, heatmap=h)
            for r, pb, c, h in zip(seg.cells, p, crops, maps, strict=True)
        ]
        return SmearResult(
            segmentation=seg,
            cells=cells,
            summary=summarize([c.p_blast for c in cells], seg.quality),
            model_name=self.model_name,
            model_version=self.model_version,
            timings_ms={
                "segment": (t1 - t0) * 1e3,
                "classify": (t2 - t1) * 1e3,
                "heatmap": (t3 - t2) * 1e3,
                "total": (t3 - t0) * 1e3,
            },
        )
