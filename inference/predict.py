"""The predictor the worker, CLI and benchmarks call: smear in, ``SmearResult`` out.

``Predictor.load()`` reads a checkpoint once per process (cached by path and device; ``Predictor.loaded()``
lists what is cached), and every forward pass runs under ``torch.inference_mode()``. It asks nothing of the
architecture beyond ``inference.models.CellClassifier``: BN folding (``fused``), the Grad-CAM split
(``cam_features`` / ``cam_head``) and the pooled features the domain check reads. Probabilities are
calibrated, ``sigmoid(logit / T)`` with the checkpoint's temperature; the operating point and the domain
reference come from the checkpoint's ``Preprocessing``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from . import DEFAULT_WEIGHTS
from .domain import DomainReference, DomainResult, smear_stats
from .models import Checkpoint, load_checkpoint
from .preprocess import OperatingPoint, Preprocessing, normalise_stain, to_tensor
from .segment import reframe_cell
from .segmentation.crop import background_colour, crop_cell
from .segmentation.pipeline import find_cells
from .stain import lab_stats
from .summary import summarize
from .temperature import apply_temperature
from .types import CellResult, Segmentation, SmearResult

__all__ = ["DEFAULT_WEIGHTS", "Observation", "Predictor", "resolve_device", "smear_cells"]

# LAB stats of the smear: one dict for every crop, or one per crop (None: that crop's own stats).
StainStats = dict | list[dict] | list[dict | None] | None

BATCH_SIZE = 64  # cells per forward pass; a 2592x1944 smear holds ~5-40 white cells

# progress(stage, done, total): stage is "segment", "classify" or "heatmap".
Progress = Callable[[str, int, int], None]

_CACHE: dict[tuple[str, str], Predictor] = {}
_CACHE_LOCK = threading.Lock()


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"``: cuda when torch sees a GPU, else cpu (the one place this is decided); else ``device`` itself.

    Raises:
        RuntimeError: a cuda device asked for without CUDA.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} asked for but CUDA is not available")
    return torch.device(device)


def smear_cells(rgb: np.ndarray) -> tuple[Segmentation, list[np.ndarray], dict, np.ndarray]:
    """Segment a smear and cut its cells as the predictor does: (segmentation, crops, LAB stats, the (8,)
    image statistics the domain check reads). Shared with the label-free calibration (``inference.adapt``)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"want (H, W, 3) uint8 RGB, got {rgb.shape} {rgb.dtype}")
    seg = find_cells(rgb)
    bg = background_colour(rgb)  # once per smear, not once per cell
    crops = [crop_cell(rgb, r, rbc_diameter_px=seg.rbc_diameter_px, background=bg) for r in seg.cells]
    lab = lab_stats(rgb)
    stats = smear_stats(lab=lab, rbc_diameter_px=seg.rbc_diameter_px, focus=seg.quality.focus)
    return seg, crops, lab, stats


@dataclass
class Observation:
    """What the network saw of one smear, before any call: for fitting and measuring the domain check."""

    segmentation: Segmentation
    crops: list[np.ndarray]
    lab: dict
    stats: np.ndarray  # (8,) ``inference.domain.IMAGE_STATS``
    logits: np.ndarray  # (N,) uncalibrated
    pooled: np.ndarray  # (N, C) pooled features
    p_blast: np.ndarray  # (N,) calibrated


class Predictor:
    """A loaded classifier plus the pipeline around it (segmentation, crops, calibration, domain, summary)."""

    def __init__(self, checkpoint: Checkpoint, *, device: torch.device, path: Path) -> None:
        self.checkpoint = checkpoint
        self.model = checkpoint.model.fused()  # conv + BN folded for speed; the checkpoint's model stays as trained
        self.device = str(device)
        self.path = path
        self.model_name = checkpoint.arch
        self.model_version = checkpoint.version
        self.model_sha256 = checkpoint.sha256  # what the app records on every run (the registry's key)
        self.temperature = checkpoint.temperature
        self.preprocessing: Preprocessing = checkpoint.preprocessing
        self.operating_point: OperatingPoint = self.preprocessing.operating_point
        ref = self.preprocessing.domain
        self.domain: DomainReference | None = DomainReference.from_dict(ref) if ref else None

    @classmethod
    def load(cls, path: str | Path | None = None, *, device: str = "auto") -> Predictor:
        """The predictor for ``path`` (default: the shipped weights) on ``device``, loaded once per process.

        Raises:
            inference.models.CheckpointError: missing, tampered or mismatched checkpoint.
            RuntimeError: ``device="cuda"`` without CUDA.
        """
        resolved = Path(path).resolve() if path is not None else DEFAULT_WEIGHTS
        dev = resolve_device(device)
        key = (str(resolved), str(dev))
        with _CACHE_LOCK:
            if key not in _CACHE:
                _CACHE[key] = cls(load_checkpoint(resolved, device=dev), device=dev, path=resolved)
            return _CACHE[key]

    @classmethod
    def loaded(cls) -> list[Predictor]:
        """The predictors this process has loaded (for a readiness check that must not load one itself)."""
        with _CACHE_LOCK:
            return list(_CACHE.values())

    # ------------------------------------------------------------ cells

    def _prepare(self, crops: list[np.ndarray], stain_stats: StainStats) -> torch.Tensor:
        ready = []
        for i, c in enumerate(crops):
            stats = stain_stats[i] if isinstance(stain_stats, list) else stain_stats
            if stats is None and self.preprocessing.stain:
                stats = lab_stats(c)
            ready.append(normalise_stain(c, stats, self.preprocessing))
        return to_tensor(ready, self.preprocessing).to(self.device)

    def forward(self, crops: list[np.ndarray], *, stain_stats: StainStats = None) -> tuple[np.ndarray, np.ndarray]:
        """Uncalibrated logits (N,) and pooled features (N, C) in one pass per batch."""
        logits, pooled = [], []
        with torch.inference_mode():
            for start in range(0, len(crops), BATCH_SIZE):
                stats = stain_stats[start : start + BATCH_SIZE] if isinstance(stain_stats, list) else stain_stats
                feats = self.model.forward_features(self._prepare(crops[start : start + BATCH_SIZE], stats))
                logits.append(self.model.forward_head(feats).float().cpu().numpy())  # (B,)
                pooled.append(feats.mean(dim=(2, 3)).float().cpu().numpy())  # (B, C)
        if not logits:
            return np.zeros(0, np.float32), np.zeros((0, 0), np.float32)
        return np.concatenate(logits), np.concatenate(pooled)

    def predict_logits(self, crops: list[np.ndarray], *, stain_stats: StainStats = None) -> np.ndarray:
        """Uncalibrated logits, (N,) float32."""
        return self.forward(crops, stain_stats=stain_stats)[0]

    def predict_crops(self, crops: list[np.ndarray], *, stain_stats: StainStats = None) -> np.ndarray:
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
        size = int(self.preprocessing.input_size)
        crops, framed = [], []
        for rgb in images:
            if reframe:
                crop, seg = reframe_cell(rgb, out_size=size)
                crops.append(crop)
                framed.append(bool(seg.cells))
            else:
                crops.append(rgb)
                framed.append(False)
        stats = [lab_stats(rgb) for rgb in images] if self.preprocessing.stain else None
        return self.predict_crops(crops, stain_stats=stats), np.array(framed, bool)

    def heatmaps(self, crops: list[np.ndarray], *, stain_stats: dict | None = None) -> list[np.ndarray]:
        """Grad-CAM of the blast logit at the model's ``cam_features`` layer, resized to each crop, in [0, 1].

        Grad-CAM rather than an attention gate because it says where the *blast* evidence is, and it works
        for every architecture.
        """
        out: list[np.ndarray] = []
        for start in range(0, len(crops), BATCH_SIZE):
            chunk = crops[start : start + BATCH_SIZE]
            with torch.inference_mode():
                feats = self.model.cam_features(self._prepare(chunk, stain_stats))  # (B, C, h, w)
            feats = feats.clone().requires_grad_(True)
            with torch.enable_grad():
                logits = self.model.cam_head(feats)  # (B,)
                (grad,) = torch.autograd.grad(logits.sum(), feats)  # samples are independent in eval mode
            weights = grad.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
            cam = torch.relu((weights * feats).sum(1)).detach().cpu().numpy()  # (B, h, w)
            for c, m in zip(chunk, cam, strict=True):
                peak = float(m.max())
                m = m / peak if peak > 0 else np.zeros_like(m)
                out.append(cv2.resize(m.astype(np.float32), (c.shape[1], c.shape[0]), interpolation=cv2.INTER_LINEAR))
        return [np.clip(h, 0.0, 1.0).astype(np.float32) for h in out]

    # ------------------------------------------------------------ smears

    def observe(self, rgb: np.ndarray) -> Observation:
        """Segment a smear and run the network on its cells: features, logits and calibrated p, no call."""
        seg, crops, lab, stats = smear_cells(rgb)
        logits, pooled = self.forward(crops, stain_stats=lab if self.preprocessing.stain else None)
        return Observation(seg, crops, lab, stats, logits, pooled, apply_temperature(logits, self.temperature))

    def analyze(self, rgb: np.ndarray, *, with_heatmaps: bool = True, progress: Progress | None = None) -> SmearResult:
        """Segment a smear, classify every white cell, check the domain, summarise.

        Args:
            rgb: (H, W, 3) uint8 RGB smear (``inference.io.load_image``).
            with_heatmaps: also compute a Grad-CAM per cell (about as costly as classifying).
            progress: called as ``progress(stage, done, total)``.
        """
        report = progress or (lambda stage, done, total: None)
        t0 = time.perf_counter()
        report("segment", 0, 1)
        seg, crops, lab, stats = smear_cells(rgb)
        report("segment", 1, 1)
        t1 = time.perf_counter()
        logits, pooled = self.forward(crops, stain_stats=lab if self.preprocessing.stain else None)
        p = apply_temperature(logits, self.temperature)
        cell_domain: list[DomainResult | None] = [None] * len(crops)
        smear_domain: DomainResult | None = None
        if self.domain is not None:
            cells_dom, smear_domain, _ = self.domain.assess(pooled=pooled, stats=stats)
            cell_domain = list(cells_dom)
        report("classify", len(crops), len(crops))
        t2 = time.perf_counter()
        maps: list[np.ndarray | None] = [None] * len(crops)
        if with_heatmaps and crops:
            maps = list(self.heatmaps(crops, stain_stats=lab if self.preprocessing.stain else None))
            report("heatmap", len(crops), len(crops))
        t3 = time.perf_counter()
        cells = [
            CellResult(region=r, p_blast=float(pb), crop=c, heatmap=h, domain=d)
            for r, pb, c, h, d in zip(seg.cells, p, crops, maps, cell_domain, strict=True)
        ]
        return SmearResult(
            segmentation=seg,
            cells=cells,
            summary=summarize(
                [c.p_blast for c in cells],
                seg.quality,
                touches_border=[c.region.touches_border for c in cells],
                operating_point=self.operating_point,
                domain=smear_domain,
                model_version=self.model_version,
            ),
            model_name=self.model_name,
            model_version=self.model_version,
            timings_ms={
                "segment": (t1 - t0) * 1e3,
                "classify": (t2 - t1) * 1e3,
                "heatmap": (t3 - t2) * 1e3,
                "total": (t3 - t0) * 1e3,
            },
            domain=smear_domain,
            operating_point=self.operating_point,
        )
