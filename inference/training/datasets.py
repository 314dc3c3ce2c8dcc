"""Readers for the shared datasets used to evaluate segmentation: ALL-IDB1, ALL-IDB2 and BCCD.

They return paths and annotations only (no pixels), so callers decode with ``inference.io.load_image``.
Known byte-identical duplicates are dropped (``Im108_0.jpg`` = ``Im093_0.jpg`` in ALL-IDB1,
``Im257_0.tif`` = ``Im223_0.tif`` in ALL-IDB2), so no smear is counted twice.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from .. import datasets_root

IDB1_DUPLICATES = frozenset({"Im108_0"})  # byte-identical to Im093_0
IDB2_DUPLICATES = frozenset({"Im257_0"})  # byte-identical to Im223_0


@dataclass(frozen=True)
class Idb1Smear:
    """An ALL-IDB1 field with its blast centroids and the non-blast centroids of ALL-IDB Patches."""

    path: Path
    label: int  # 1 = from an ALL patient
    blasts: list[tuple[float, float]]  # x, y
    others: list[tuple[float, float]] = field(default_factory=list)  # x, y (non-blast white cells)

    @property
    def name(self) -> str:
        return self.path.stem


@dataclass(frozen=True)
class Idb2Crop:
    """An ALL-IDB2 single-cell crop."""

    path: Path
    label: int  # 1 = blast


@dataclass(frozen=True)
class BccdImage:
    """A BCCD field with its white-cell boxes (x0, y0, x1, y1, VOC pixel coordinates, inclusive)."""

    path: Path
    wbc_boxes: list[tuple[int, int, int, int]]
    rbc_boxes: list[tuple[int, int, int, int]]

    @property
    def name(self) -> str:
        return self.path.stem


def acquisition_of(shape: tuple[int, ...]) -> str:
    """An ALL-IDB1 field's acquisition, named by its image size "WxH" (the dataset's two cameras differ in it),
    from the image's ``shape`` (H, W[, C])."""
    return f"{shape[1]}x{shape[0]}"


def read_xyc(path: Path) -> list[tuple[float, float]]:
    """Centroid file: one ``x y`` pair per line, tab- or space-separated; missing file means none."""
    if not path.exists():
        return []
    points = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2:
            points.append((float(parts[0]), float(parts[1])))
    return points


def _label(stem: str) -> int:
    return int(stem.rsplit("_", 1)[1])


def idb1_smears(root: Path | None = None) -> list[Idb1Smear]:
    """ALL-IDB1's 108 fields minus the known duplicate (107 smears)."""
    base = (root or datasets_root()) / "ALL-IDB" / "ALL_IDB1"
    files = sorted((base / "im").glob("Im*.jpg"))
    if not files:
        raise FileNotFoundError(f"no ALL-IDB1 images under {base / 'im'}")
    return [
        Idb1Smear(
            path=f,
            label=_label(f.stem),
            blasts=read_xyc(base / "xyc" / f"{f.stem}.xyc"),
            others=read_xyc(base / "other_AngeloUNIMI_GPL3" / f"{f.stem}.xyc"),
        )
        for f in files
        if f.stem not in IDB1_DUPLICATES
    ]


def idb2_crops(root: Path | None = None) -> list[Idb2Crop]:
    """ALL-IDB2's 260 crops minus the known duplicate (259 crops)."""
    folder = (root or datasets_root()) / "ALL-IDB" / "ALL_IDB2" / "img"
    files = sorted(folder.glob("Im*.tif"))
    if not files:
        raise FileNotFoundError(f"no ALL-IDB2 crops under {folder}")
    return [Idb2Crop(f, _label(f.stem)) for f in files if f.stem not in IDB2_DUPLICATES]


def _boxes(root: ET.Element, name: str) -> list[tuple[int, int, int, int]]:
    out = []
    for obj in root.iter("object"):
        if (obj.findtext("name") or "").strip() != name:
            continue
        box = obj.find("bndbox")
        if box is None:
            continue
        x0, y0, x1, y1 = (int(round(float(box.findtext(k) or 0))) for k in ("xmin", "ymin", "xmax", "ymax"))
        out.append((x0, y0, x1, y1))
    return out


def bccd_images(root: Path | None = None, *, split: str | None = None) -> list[BccdImage]:
    """BCCD fields with their VOC boxes; ``split`` picks an ``ImageSets/Main`` list (train/val/test)."""
    base = (root or datasets_root()) / "BCCD" / "BCCD"
    annotations = sorted((base / "Annotations").glob("*.xml"))
    if not annotations:
        raise FileNotFoundError(f"no BCCD annotations under {base / 'Annotations'}")
    wanted = None
    if split is not None:
        wanted = set((base / "ImageSets" / "Main" / f"{split}.txt").read_text().split())
    out = []
    for ann in annotations:
        if wanted is not None and ann.stem not in wanted:
            continue
        image = base / "JPEGImages" / f"{ann.stem}.jpg"
        if not image.exists():
            continue
        tree = ET.parse(ann).getroot()
        out.append(BccdImage(image, _boxes(tree, "WBC"), _boxes(tree, "RBC")))
    return out
