"""Training data for the cell classifier: samples, manifests, preprocessing and augmentation.

A *sample* is one cell crop (uint8 RGB) with its label (1 = blast), a group (cells of one smear or one
near-duplicate cluster share a group, so they never straddle a fold) and the smear's LAB stats for stain
normalisation. The same ``to_tensor`` runs at training and at prediction time, driven by the checkpoint's
``preprocessing`` dict, so the two cannot drift apart.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from .. import datasets_root
from ..preprocess import DEFAULT_PREPROCESSING, normalise_stain, to_tensor  # noqa: F401  (re-exported)
from ..segmentation.crop import DEFAULT_CELL_SCALE, square_resize
from ..stain import lab_stats
from . import degrade

CLASS_NAMES = ["normal", "blast"]
# Networks started from ImageNet weights keep the input scaling they were trained with.
ARCH_NORMALISATION = {
    arch: {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]} for arch in ("efficientnet_lite0", "efficientnet_lite2")
}


@dataclass
class CellSample:
    """One labelled cell crop."""

    crop: np.ndarray  # (S, S, 3) uint8 RGB
    label: int  # 1 = blast, 0 = normal
    group: str  # smear or near-duplicate cluster: the unit of a fold
    source: str  # e.g. "ALL-IDB2/Im001_1.tif"
    stain_stats: dict | None = None  # LAB stats of the smear the crop came from


# ---------------------------------------------------------------- ALL-IDB2

IDB2_DUPLICATES = {"Im257_0"}  # byte-identical to Im223_0
# Near-duplicate normal crops reported between Im222-227 and Im256-260: one group, one fold.
IDB2_NEAR_DUP = {f"Im{n:03d}_0" for n in (*range(222, 228), *range(256, 261))}
_NAME = re.compile(r"Im(\d{3})_([01])$")


def idb2_samples(root: Path | None = None, *, size: int = 128) -> list[CellSample]:
    """ALL-IDB2's crops, duplicates dropped, near-duplicates grouped, resized to ``size`` (centre, aspect kept)."""
    folder = (root or datasets_root()) / "ALL-IDB" / "ALL_IDB2" / "img"
    files = sorted(folder.glob("Im*.tif"))
    if not files:
        raise FileNotFoundError(f"no ALL-IDB2 crops under {folder}")
    out = []
    for f in files:
        m = _NAME.match(f.stem)
        if not m or f.stem in IDB2_DUPLICATES:
            continue
        bgr = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if bgr is None:  # OpenCV answers None, not an error, for a file it cannot read
            raise OSError(f"{f}: not a readable image")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        group = "idb2-near-dup" if f.stem in IDB2_NEAR_DUP else f.stem
        out.append(
            CellSample(
                crop=square_resize(rgb, size),
                label=int(m.group(2)),
                group=group,
                source=f"ALL-IDB2/{f.name}",
                stain_stats=lab_stats(rgb),
            )
        )
    return out


# ---------------------------------------------------------------- manifests


def read_manifest(path: str | Path) -> list[tuple[Path, int]]:
    """Rows of a ``path,label`` CSV (paths relative to the CSV's folder; 1 = blast; other columns ignored).

    Raises:
        ValueError: missing columns or a label that is not 0/1, naming the line.
    """
    path = Path(path)
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "path" not in reader.fieldnames or "label" not in reader.fieldnames:
            raise ValueError(f"{path}: manifest needs 'path' and 'label' columns, has {reader.fieldnames}")
        rows = []
        for i, row in enumerate(reader, start=2):
            label = (row["label"] or "").strip()
            if label not in ("0", "1"):
                raise ValueError(f"{path}:{i}: label must be 0 or 1, got {label!r}")
            rows.append((path.parent / row["path"].strip(), int(label)))
    if not rows:
        raise ValueError(f"{path}: manifest has no rows")
    return rows


def manifest_samples(path: str | Path, *, size: int = 128) -> list[CellSample]:
    """A manifest's crops as samples; each image is its own group and its own stain reference."""
    from ..io import load_image

    out = []
    for p, label in read_manifest(path):
        rgb = load_image(p)
        out.append(CellSample(square_resize(rgb, size), label, str(p), str(p), lab_stats(rgb)))
    return out


# ---------------------------------------------------------------- preprocessing and augmentation


@dataclass(frozen=True)
class Augment:
    """Random geometry, stain and focus changes, so the model meets other labs' smears half-way."""

    rotate: bool = True  # any angle: cells have no up
    flip: bool = True
    scale: tuple[float, float] = (0.85, 1.15)
    shift_px: float = 0.05  # fraction of the side
    brightness: float = 0.15
    contrast: float = 0.15
    hue_deg: float = 8.0  # OpenCV hue units are 2 degrees
    saturation: float = 0.2
    blur_p: float = 0.3
    blur_sigma: tuple[float, float] = (0.3, 1.5)
    channel_gain: float = 0.0  # independent gain per RGB channel: stain balance differs between labs
    gamma: float = 0.0  # log-uniform gamma in [1/(1+g), 1+g]: camera response
    grayscale_p: float = 0.0  # sometimes drop colour, so shape and texture must carry the call
    # Other labs' stains and optics (``degrade``): all off by default, on in the ``transfer`` preset.
    hed_sigma: float = 0.0  # HED stain-channel gain jitter, on top of the Reinhard normalisation
    hed_bias: float = 0.0
    defocus_p: float = 0.0
    defocus_radius: tuple[float, float] = (1.0, 3.0)  # disk radius in crop pixels
    illumination_p: float = 0.0
    illumination: float = 0.0  # strength of the multiplicative ramp/vignette
    lowres_p: float = 0.0  # re-photograph so a red cell is only ``lowres_rbc_px`` pixels across
    lowres_rbc_px: tuple[float, float] = (10.0, 15.0)
    jpeg_p: float = 0.0  # JPEG at full resolution (low-resolution draws are always JPEG'd at their scale)
    jpeg_quality: tuple[int, int] = (30, 90)
    cell_scale: float = DEFAULT_CELL_SCALE  # red-cell diameters across a crop (how crops were cut)

    def __call__(self, rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        s = rgb.shape[0]
        angle = rng.uniform(0, 360) if self.rotate else 0.0
        scale = rng.uniform(*self.scale)
        m = cv2.getRotationMatrix2D((s / 2, s / 2), angle, scale)
        m[:, 2] += rng.uniform(-self.shift_px, self.shift_px, 2) * s
        out = cv2.warpAffine(rgb, m, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        if self.flip and rng.random() < 0.5:
            out = out[:, ::-1]
        if self.hed_sigma or self.hed_bias:
            out = degrade.hed_jitter(np.ascontiguousarray(out), rng, sigma=self.hed_sigma, bias=self.hed_bias)
        hsv = cv2.cvtColor(np.ascontiguousarray(out), cv2.COLOR_RGB2HSV).astype(np.float32)
        hsv[..., 0] = (hsv[..., 0] + rng.uniform(-self.hue_deg, self.hue_deg) / 2) % 180
        hsv[..., 1] *= 1 + rng.uniform(-self.saturation, self.saturation)
        out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
        c = 1 + rng.uniform(-self.contrast, self.contrast)
        b = rng.uniform(-self.brightness, self.brightness) * 255
        out = (out - out.mean()) * c + out.mean() + b
        if self.channel_gain:
            out = out * (1 + rng.uniform(-self.channel_gain, self.channel_gain, 3))
        if self.gamma:
            g = float(np.exp(rng.uniform(-np.log1p(self.gamma), np.log1p(self.gamma))))
            out = 255.0 * (np.clip(out, 0, 255) / 255.0) ** g
        if self.grayscale_p and rng.random() < self.grayscale_p:
            out = np.repeat(np.clip(out, 0, 255).mean(axis=2, keepdims=True), 3, axis=2)
        out = np.clip(out, 0, 255).astype(np.uint8)
        if rng.random() < self.blur_p:
            out = cv2.GaussianBlur(out, (0, 0), rng.uniform(*self.blur_sigma))
        return self._degrade(np.ascontiguousarray(out), rng)

    def _degrade(self, out: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Optics and camera, in the order a real image meets them: focus, light, sampling, compression."""
        if self.defocus_p and rng.random() < self.defocus_p:
            out = degrade.defocus(out, rng.uniform(*self.defocus_radius))
        if self.illumination_p and rng.random() < self.illumination_p:
            out = degrade.uneven_illumination(out, rng, strength=self.illumination)
        if self.lowres_p and rng.random() < self.lowres_p:
            rbc_now = out.shape[0] / self.cell_scale
            rbc = rng.uniform(*self.lowres_rbc_px)
            return degrade.low_resolution(out, rng, rbc_px=rbc, rbc_px_now=rbc_now, jpeg_quality=self.jpeg_quality)
        if self.jpeg_p and rng.random() < self.jpeg_p:
            out = degrade.jpeg(out, int(rng.integers(self.jpeg_quality[0], self.jpeg_quality[1] + 1)))
        return out


# The "augment stain, blur and scale hard" preset for transfer to other labs (``--aug strong``).
AUGMENTS = {
    "standard": Augment(),
    "strong": Augment(
        scale=(0.7, 1.4),
        brightness=0.2,
        contrast=0.25,
        hue_deg=20.0,
        saturation=0.4,
        blur_p=0.5,
        blur_sigma=(0.3, 2.5),
        channel_gain=0.1,
        gamma=0.3,
        grayscale_p=0.1,
    ),
}
# Issue 13's recipe for other labs' images: ``strong`` plus HED stain jitter, defocus, uneven light, and
# low-resolution cameras (red cells 10-15 px before scale normalisation) with JPEG (``--aug transfer``).
AUGMENTS["transfer"] = replace(
    AUGMENTS["strong"],
    hed_sigma=0.05,
    hed_bias=0.02,
    defocus_p=0.2,
    illumination_p=0.3,
    illumination=0.25,
    lowres_p=0.35,
    jpeg_p=0.3,
)


class CellDataset(torch.utils.data.Dataset):
    """Samples -> (tensor, label); stain-normalised once up front, augmented per draw with a seeded RNG."""

    def __init__(self, samples: list[CellSample], preprocessing: dict, *, augment: Augment | None, seed: int = 0):
        size = int(preprocessing["input_size"])
        self.crops = [square_resize(normalise_stain(s.crop, s.stain_stats, preprocessing), size) for s in samples]
        self.labels = np.array([s.label for s in samples], dtype=np.float32)
        self.preprocessing = preprocessing
        self.augment = augment
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.crops)

    def batch(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """One batch without DataLoader workers (2 shared cores: processes would only add overhead)."""
        crops = [self.augment(self.crops[i], self.rng) if self.augment else self.crops[i] for i in idx]
        return to_tensor(crops, self.preprocessing), torch.from_numpy(self.labels[idx])


# ---------------------------------------------------------------- splits


def stratified_group_folds(labels: list[int], groups: list[str], k: int, *, seed: int) -> list[np.ndarray]:
    """Assign whole groups to ``k`` folds, balancing each fold's count of each class.

    Groups are taken largest first and placed in the fold that is currently shortest of their majority
    class (ties broken by a seeded shuffle): the usual greedy stratified-group split.
    Returns k arrays of sample indices.
    """
    rng = np.random.default_rng(seed)
    by_group: dict[str, list[int]] = {}
    for i, g in enumerate(groups):
        by_group.setdefault(g, []).append(i)
    names = list(by_group)
    rng.shuffle(names)
    names.sort(key=lambda g: -len(by_group[g]))
    counts = np.zeros((k, 2))
    totals = np.bincount(np.asarray(labels, dtype=int), minlength=2).astype(float)
    folds: list[list[int]] = [[] for _ in range(k)]
    for g in names:
        idx = by_group[g]
        pos = sum(labels[i] for i in idx)
        vec = np.array([len(idx) - pos, pos], float)
        # cost: how far each fold would be above its share of each class after adding this group
        cost = (((counts + vec) / np.maximum(totals, 1)) ** 2).sum(1) + rng.random(k) * 1e-9
        f = int(np.argmin(cost))
        folds[f].extend(idx)
        counts[f] += vec
    return [np.array(sorted(f), dtype=int) for f in folds]


def train_val_split(
    labels: list[int], groups: list[str], *, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Grouped, stratified train/validation split (validation is one of round(1/val_fraction) folds)."""
    k = max(2, round(1 / val_fraction))
    folds = stratified_group_folds(labels, groups, k, seed=seed)
    val = folds[0]
    train = np.setdiff1d(np.arange(len(labels)), val)
    return train, val


# ---------------------------------------------------------------- ALL-IDB1 cells (segmented)

CACHE_DIR = Path(__file__).resolve().parent.parent / "var" / "cache"
CACHE_VERSION = 2  # in the file names: 2 added the median to each smear's stain statistics
CROP_KINDS = ("scaled", "masked", "raw", "annotated")
RAW_SIDE_PX = 240  # fixed window of the no-scale-normalisation ablation (ALL-IDB2 crops are 257 px)
# Fields reported to overlap: cells on them are the same cells, so they share a fold.
IDB1_OVERLAP_GROUPS = ({"Im009_1", "Im010_1", "Im011_1"},)


def idb1_group(name: str) -> str:
    for g in IDB1_OVERLAP_GROUPS:
        if name in g:
            return "+".join(sorted(g))
    return name


def _inside(contour: np.ndarray, points: list[tuple[float, float]]) -> int:
    c = contour.reshape(-1, 1, 2).astype(np.float32)
    return sum(cv2.pointPolygonTest(c, (float(x), float(y)), False) >= 0 for x, y in points)


@dataclass
class CellTable:
    """Every cell of a set of smears, as parallel arrays (so it caches to one .npz).

    ``label`` is 1 (holds an annotated blast centroid), 0 (on a healthy smear, or holds only an ``other``
    centroid) or -1 (on an ALL smear with no annotation: kept for slide-level calls, never trained or scored).
    ``kind`` says how the crop was made: ``scaled`` (crop_cell, 3 red-cell diameters, the deployed crop),
    ``masked`` (same, background outside the contour painted over), ``raw`` (fixed 240 px window, no scale
    normalisation) and ``annotated`` (crop_cell at an annotated centroid, found by segmentation or not:
    extra training data, never scored).
    """

    crops: dict[str, np.ndarray]  # kind -> (N, S, S, 3) uint8 (annotated: (M, S, S, 3))
    label: np.ndarray  # (N,) int
    smear: np.ndarray  # (N,) str
    smear_label: np.ndarray  # (N,) int: 1 = ALL patient
    smear_size: np.ndarray  # (N,) str "WxH"
    ann_label: np.ndarray  # (M,) int
    ann_smear: np.ndarray  # (M,) str
    stats: dict[str, dict]  # smear -> LAB stats
    smears: dict[str, dict]  # smear -> {"label", "size", "n_found"}

    def samples(self, kind: str, mask: np.ndarray | None = None) -> list[CellSample]:
        """Labelled (label >= 0) cells as samples, optionally restricted by a boolean mask over cells."""
        keep = self.label >= 0 if mask is None else (self.label >= 0) & mask
        return [
            CellSample(
                self.crops[kind][i],
                int(self.label[i]),
                idb1_group(str(self.smear[i])),
                str(self.smear[i]),
                self.stats[str(self.smear[i])],
            )
            for i in np.flatnonzero(keep)
        ]

    def smear_cells(self, kind: str, smear: str) -> list[CellSample]:
        """Every cell found on one smear, labelled or not (unlabelled as 0): what a slide call sees."""
        return [
            CellSample(self.crops[kind][i], int(max(self.label[i], 0)), idb1_group(smear), smear, self.stats[smear])
            for i in np.flatnonzero(self.smear == smear)
        ]

    def annotated_samples(self, smears: set[str]) -> list[CellSample]:
        return [
            CellSample(
                self.crops["annotated"][i],
                int(self.ann_label[i]),
                idb1_group(str(self.ann_smear[i])),
                str(self.ann_smear[i]),
                self.stats[str(self.ann_smear[i])],
            )
            for i in range(len(self.ann_label))
            if str(self.ann_smear[i]) in smears
        ]


def idb1_cells(*, size: int = 96, cache: bool = True, refresh: bool = False, progress: bool = True) -> CellTable:
    """Segment every ALL-IDB1 smear (duplicate dropped) and label its cells; cached under ``var/cache``
    (``refresh`` recomputes and rewrites the cache, e.g. after a segmentation change)."""
    import json

    path = CACHE_DIR / f"idb1_cells_v{CACHE_VERSION}_{size}.npz"
    if cache and not refresh and path.exists():
        z = np.load(path, allow_pickle=False)
        meta = json.loads(str(z["meta"]))
        return CellTable(
            crops={k: z[f"crops_{k}"] for k in CROP_KINDS},
            label=z["label"],
            smear=z["smear"],
            smear_label=z["smear_label"],
            smear_size=z["smear_size"],
            ann_label=z["ann_label"],
            ann_smear=z["ann_smear"],
            stats=meta["stats"],
            smears=meta["smears"],
        )
    from tqdm import tqdm

    from ..io import load_image
    from ..segment import background_colour, crop_cell, find_cells
    from ..types import CellRegion
    from .datasets import acquisition_of, idb1_smears

    crops: dict[str, list] = {k: [] for k in CROP_KINDS}
    rows: dict[str, list] = {k: [] for k in ("label", "smear", "smear_label", "smear_size", "ann_label", "ann_smear")}
    stats, smears = {}, {}
    for sm in tqdm(idb1_smears(), desc="segment ALL-IDB1", disable=not progress):
        rgb = load_image(sm.path)
        seg = find_cells(rgb)
        bg = background_colour(rgb)
        stats[sm.name] = lab_stats(rgb)
        size_str = acquisition_of(rgb.shape)
        smears[sm.name] = {"label": sm.label, "size": size_str, "n_found": len(seg.cells)}
        for r in seg.cells:
            n_blast, n_other = _inside(r.contour, sm.blasts), _inside(r.contour, sm.others)
            if n_blast and not n_other:
                label = 1
            elif sm.label == 0 or (n_other and not n_blast):
                label = 0
            else:  # unannotated cell on an ALL smear, or a merged blob holding both kinds
                label = -1
            d = seg.rbc_diameter_px
            crops["scaled"].append(crop_cell(rgb, r, rbc_diameter_px=d, out_size=size, background=bg))
            crops["masked"].append(
                crop_cell(rgb, r, rbc_diameter_px=d, out_size=size, background=bg, mask_background=True)
            )
            crops["raw"].append(_raw_crop(rgb, r.centroid, size))
            for k, v in (("label", label), ("smear", sm.name), ("smear_label", sm.label), ("smear_size", size_str)):
                rows[k].append(v)
        for pts, lab in ((sm.blasts, 1), (sm.others, 0)):
            for x, y in pts:
                region = CellRegion(
                    id=0,
                    bbox=(int(x), int(y), 1, 1),
                    centroid=(x, y),
                    area_px=1,
                    touches_border=False,
                    contour=np.array([[int(x), int(y)]], np.int32),
                )
                crops["annotated"].append(
                    crop_cell(rgb, region, rbc_diameter_px=seg.rbc_diameter_px, out_size=size, background=bg)
                )
                rows["ann_label"].append(lab)
                rows["ann_smear"].append(sm.name)
    table = CellTable(
        crops={k: np.stack(v) if v else np.zeros((0, size, size, 3), np.uint8) for k, v in crops.items()},
        label=np.array(rows["label"], int),
        smear=np.array(rows["smear"]),
        smear_label=np.array(rows["smear_label"], int),
        smear_size=np.array(rows["smear_size"]),
        ann_label=np.array(rows["ann_label"], int),
        ann_smear=np.array(rows["ann_smear"]),
        stats=stats,
        smears=smears,
    )
    if cache:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")  # written aside, then renamed: a reader never sees half a cache
        crop_arrays: dict[str, Any] = {f"crops_{k}": v for k, v in table.crops.items()}
        np.savez(
            tmp,
            **crop_arrays,
            label=table.label,
            smear=table.smear,
            smear_label=table.smear_label,
            smear_size=table.smear_size,
            ann_label=table.ann_label,
            ann_smear=table.ann_smear,
            meta=json.dumps({"stats": stats, "smears": smears}),
        )
        tmp.replace(path)
    return table


def _raw_crop(rgb: np.ndarray, centroid: tuple[float, float], size: int) -> np.ndarray:
    return center_crop(rgb, centroid[0], centroid[1], RAW_SIDE_PX, out_size=size)


def center_crop(rgb: np.ndarray, cx: float, cy: float, side: int, *, out_size: int) -> np.ndarray:
    """A square ``side``-px window centred on (cx, cy), edge-padded at borders, resized to ``out_size``.

    The no-segmentation ablation ("raw centre crop") uses this instead of ``segment.crop_cell``.
    """
    h, w = rgb.shape[:2]
    half = side // 2
    x0, y0 = int(round(cx)) - half, int(round(cy)) - half
    pad = ((max(0, -y0), max(0, y0 + side - h)), (max(0, -x0), max(0, x0 + side - w)), (0, 0))
    win = rgb[max(0, y0) : y0 + side, max(0, x0) : x0 + side]
    return square_resize(np.pad(win, pad, mode="edge"), out_size)


# ---------------------------------------------------------------- BCCD white cells (another lab: all normal)


def bccd_cells(
    *, size: int = 96, kind: str = "scaled", cache: bool = True, progress: bool = True, split: str | None = None
) -> list[CellSample]:
    """BCCD's white cells as normal samples, found by our segmentation (a cell counts when its contour holds
    the centre of a VOC WBC box). Another lab, microscope and stain: use with stain normalisation/augmentation,
    or the model may learn "which lab" instead of "which cell". Cached under ``var/cache``. ``split`` keeps
    the fields of one BCCD ``ImageSets/Main`` list (e.g. ``trainval``, leaving ``test`` unseen).
    """
    import json

    path = CACHE_DIR / f"bccd_cells_v{CACHE_VERSION}_{size}.npz"
    if cache and path.exists():
        z = np.load(path, allow_pickle=False)
        names, stats = z["smear"], json.loads(str(z["stats"]))
        crops = z[f"crops_{kind}"]
    else:
        from tqdm import tqdm

        from ..io import load_image
        from ..segment import background_colour, crop_cell, find_cells
        from .datasets import bccd_images

        out: dict[str, list] = {"scaled": [], "masked": [], "raw": []}
        names_l, stats = [], {}
        for im in tqdm(bccd_images(), desc="segment BCCD", disable=not progress):
            rgb = load_image(im.path)
            seg = find_cells(rgb)
            bg = background_colour(rgb)
            stats[im.name] = lab_stats(rgb)
            centres = [((x0 + x1) / 2, (y0 + y1) / 2) for x0, y0, x1, y1 in im.wbc_boxes]
            for r in seg.cells:
                if not _inside(r.contour, centres):
                    continue
                d = seg.rbc_diameter_px
                out["scaled"].append(crop_cell(rgb, r, rbc_diameter_px=d, out_size=size, background=bg))
                out["masked"].append(
                    crop_cell(rgb, r, rbc_diameter_px=d, out_size=size, background=bg, mask_background=True)
                )
                # 640x480 BCCD is at lower magnification than ALL-IDB1: a fixed window scaled the same way
                out["raw"].append(
                    center_crop(rgb, r.centroid[0], r.centroid[1], RAW_SIDE_PX * 640 // 2592, out_size=size)
                )
                names_l.append(im.name)
        arrays = {k: np.stack(v) if v else np.zeros((0, size, size, 3), np.uint8) for k, v in out.items()}
        names = np.array(names_l)
        if cache:
            CACHE_DIR.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npz")
            payload: dict[str, Any] = {f"crops_{k}": v for k, v in arrays.items()}
            np.savez(tmp, **payload, smear=names, stats=json.dumps(stats))
            tmp.replace(path)
        crops = arrays[kind]
    keep: Sequence[int] = range(len(names))
    if split is not None:
        from .datasets import bccd_images

        wanted = {im.name for im in bccd_images(split=split)}
        keep = [i for i in keep if str(names[i]) in wanted]
    return [CellSample(crops[i], 0, f"bccd/{names[i]}", f"BCCD/{names[i]}", stats[str(names[i])]) for i in keep]
