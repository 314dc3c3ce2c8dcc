"""``inference.segment``: white cells found, touching pairs split, crops scale-normalised, CLI shape.

Synthetic smears (``tests/inference/synthetic.py``) carry exact ground truth; tests marked ``datasets``
use the shared datasets and skip when they are absent.
"""

import json

import cv2
import numpy as np
import pytest

from inference import datasets_root
from inference.segment import crop_cell, find_cells, main, reframe_cell
from inference.types import CellRegion, Segmentation

from .synthetic import BACKGROUND, make_smear


def _mask_iou(cell: CellRegion, truth: np.ndarray) -> float:
    mask = np.zeros(truth.shape, np.uint8)
    cv2.fillPoly(mask, [cell.contour.reshape(-1, 1, 2)], 1)
    inter = np.logical_and(mask, truth).sum()
    return float(inter / np.logical_or(mask, truth).sum())


def _best_ious(seg: Segmentation, truths: list[np.ndarray]) -> list[float]:
    return [max((_mask_iou(c, t) for c in seg.cells), default=0.0) for t in truths]


SCENES = {
    "640x480, red cell 40 px": dict(width=640, height=480, rbc_diameter=40, seed=0),
    "1600x1200, red cell 80 px": dict(width=1600, height=1200, rbc_diameter=80, seed=1),
    "pale, shifted stain, dim lamp": dict(hue_shift_deg=15, saturation=0.7, brightness=0.85, seed=2),
    "strong stain, noisy": dict(saturation=1.3, noise_sigma=8, seed=5),
}


@pytest.mark.parametrize("scene", SCENES.values(), ids=SCENES.keys())
def test_it_finds_every_white_cell_with_its_outline(scene):
    smear = make_smear(**scene)
    seg = find_cells(smear.rgb)
    assert len(seg.cells) == len(smear.wbc_masks)
    assert min(_best_ious(seg, smear.wbc_masks)) >= 0.75


@pytest.mark.parametrize("seed", [3, 4, 6])
def test_it_splits_touching_pairs(seed):
    smear = make_smear(n_single=1, n_pairs=3, seed=seed)
    assert len(smear.touching_pairs) == 3
    seg = find_cells(smear.rgb)
    for a, b in smear.touching_pairs:
        best_a = max(seg.cells, key=lambda c: _mask_iou(c, smear.wbc_masks[a]))
        best_b = max(seg.cells, key=lambda c: _mask_iou(c, smear.wbc_masks[b]))
        assert best_a.id != best_b.id
        assert _mask_iou(best_a, smear.wbc_masks[a]) >= 0.7 and _mask_iou(best_b, smear.wbc_masks[b]) >= 0.7


@pytest.mark.parametrize("diameter,size", [(24, (480, 640)), (40, (480, 640)), (90, (1200, 1600))])
def test_it_estimates_the_red_cell_diameter(diameter, size):
    smear = make_smear(width=size[1], height=size[0], rbc_diameter=diameter, seed=7)
    seg = find_cells(smear.rgb)
    assert seg.rbc_diameter_px == pytest.approx(diameter, rel=0.2)


def test_it_reports_the_same_cells_at_two_magnifications():
    small = make_smear(width=640, height=480, rbc_diameter=40, seed=8)
    big_rgb = cv2.resize(small.rgb, (1280, 960), interpolation=cv2.INTER_LINEAR)
    seg_small, seg_big = find_cells(small.rgb), find_cells(big_rgb)
    assert len(seg_small.cells) == len(seg_big.cells) == len(small.wbc_masks)
    assert seg_big.rbc_diameter_px == pytest.approx(2 * seg_small.rbc_diameter_px, rel=0.15)
    area_small = sorted(c.area_px for c in seg_small.cells)
    area_big = sorted(c.area_px / 4 for c in seg_big.cells)
    np.testing.assert_allclose(area_big, area_small, rtol=0.15)


def test_it_finds_no_white_cell_where_there_is_none():
    smear = make_smear(n_single=0, n_pairs=0, seed=9)
    seg = find_cells(smear.rgb)
    assert seg.cells == []
    assert "too_few_cells" in seg.quality.flags


def test_it_ignores_platelet_sized_purple_specks():
    smear = make_smear(n_single=2, n_pairs=0, seed=10)
    rgb = smear.rgb.copy()
    rng = np.random.default_rng(0)
    for _ in range(15):  # platelets: ~0.25 red-cell diameters across
        x, y = int(rng.uniform(20, 620)), int(rng.uniform(20, 460))
        cv2.circle(rgb, (x, y), 5, (120, 70, 160), -1)
    seg = find_cells(rgb)
    assert len(seg.cells) == 2


def test_it_flags_a_blurred_smear_as_out_of_focus():
    smear = make_smear(seed=11)
    sharp = find_cells(smear.rgb)
    blurred = find_cells(cv2.GaussianBlur(smear.rgb, (0, 0), 0.15 * smear.rbc_diameter_px))
    assert "out_of_focus" not in sharp.quality.flags
    assert "out_of_focus" in blurred.quality.flags
    assert blurred.quality.focus < sharp.quality.focus


def test_it_flags_a_stain_outside_the_expected_range():
    smear = make_smear(hue_shift_deg=120, seed=12)  # nuclei turn green-yellow
    seg = find_cells(smear.rgb)
    assert "stain_out_of_range" in seg.quality.flags or seg.cells == []


def test_it_isolates_the_centre_cell_of_a_single_cell_crop():
    smear = make_smear(width=640, height=480, rbc_diameter=60, n_single=3, n_pairs=0, seed=13)
    x, y = smear.wbc_centres[0]
    half = 128
    padded = cv2.copyMakeBorder(smear.rgb, half, half, half, half, cv2.BORDER_CONSTANT, value=BACKGROUND)
    crop = padded[int(y) : int(y) + 2 * half + 1, int(x) : int(x) + 2 * half + 1]
    seg = find_cells(crop, single_cell=True)
    assert len(seg.cells) == 1
    cx, cy = seg.cells[0].centroid
    assert abs(cx - half) < 0.3 * 60 and abs(cy - half) < 0.3 * 60


def test_it_keeps_a_small_centred_cell_in_single_cell_mode():
    smear = make_smear(width=400, height=400, rbc_diameter=80, n_single=0, n_pairs=0, seed=22)
    rgb = smear.rgb.copy()
    cv2.circle(rgb, (200, 200), 18, (120, 70, 160), -1)  # under half a red cell across: a smear would drop it
    assert find_cells(rgb).cells == []
    seg = find_cells(rgb, single_cell=True)
    assert len(seg.cells) == 1
    assert abs(seg.cells[0].centroid[0] - 200) < 5 and abs(seg.cells[0].centroid[1] - 200) < 5


def test_it_recovers_the_scale_of_a_crop_filled_by_one_big_cell():
    rgb = np.empty((257, 257, 3), np.uint8)
    rgb[:] = BACKGROUND
    cv2.circle(rgb, (128, 128), 100, (196, 176, 220), -1)  # cytoplasm
    cv2.circle(rgb, (120, 124), 80, (104, 58, 150), -1)  # nucleus
    seg = find_cells(rgb, single_cell=True)
    assert len(seg.cells) == 1
    cx, cy = seg.cells[0].centroid
    assert abs(cx - 128) < 20 and abs(cy - 128) < 20
    # A white cell is 1 to 2.5 red cells across, whatever the spectrum of a red-cell-free crop says.
    assert 200 / 2.5 <= seg.rbc_diameter_px <= 200 / 1.0
    assert "scale_uncertain" in seg.quality.flags


def test_the_plain_kmeans_baseline_runs_and_finds_cells():
    smear = make_smear(n_pairs=0, seed=14)
    seg = find_cells(smear.rgb, method="kmeans")
    assert isinstance(seg, Segmentation)
    assert len(seg.cells) >= 1
    assert max(_best_ious(seg, smear.wbc_masks)) > 0.2


def test_it_rejects_an_unknown_method_and_bad_arrays():
    rgb = make_smear(seed=15).rgb
    with pytest.raises(ValueError):
        find_cells(rgb, method="magic")
    with pytest.raises(ValueError):
        find_cells(rgb[..., 0])
    with pytest.raises(ValueError):
        find_cells(rgb.astype(np.float32))


DEGENERATE = {
    "1x1": np.zeros((1, 1, 3), np.uint8),
    "3x5 grey": np.full((3, 5, 3), 200, np.uint8),
    "blank white": np.full((300, 400, 3), 255, np.uint8),
    "blank black": np.zeros((300, 400, 3), np.uint8),
    "all nucleus-purple": np.tile(np.array([110, 60, 150], np.uint8), (200, 200, 1)),
    "noise": np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8),
    "2x2000 strip": np.random.default_rng(1).integers(0, 256, (2, 2000, 3), dtype=np.uint8),
}


@pytest.mark.parametrize("method", ["modified", "kmeans"])
@pytest.mark.parametrize("name", DEGENERATE.keys())
def test_it_never_crashes_on_degenerate_images(name, method):
    rgb = DEGENERATE[name]
    seg = find_cells(rgb, method=method)
    assert (seg.width, seg.height) == (rgb.shape[1], rgb.shape[0])
    assert seg.rbc_diameter_px > 0 and np.isfinite(seg.quality.focus)
    json.dumps(seg.to_json())  # the CLI and the worker must be able to serialise it
    for cell in seg.cells[:3]:
        assert crop_cell(rgb, cell, rbc_diameter_px=seg.rbc_diameter_px, out_size=32).shape == (32, 32, 3)


def test_it_flags_a_blank_field():
    seg = find_cells(DEGENERATE["blank white"])
    assert seg.cells == []
    assert {"too_few_cells", "out_of_focus"} <= set(seg.quality.flags)


def test_it_marks_cells_cut_by_the_border():
    smear = make_smear(n_single=1, n_pairs=0, seed=16)
    x, y = smear.wbc_centres[0]
    cut = smear.rgb[:, int(x) :]  # cut the cell in half at the left edge
    seg = find_cells(np.ascontiguousarray(cut))
    assert any(c.touches_border for c in seg.cells)


def test_crops_have_the_red_cell_at_a_fixed_size_at_any_magnification():
    small = make_smear(width=640, height=480, rbc_diameter=40, n_pairs=0, seed=17)
    big = cv2.resize(small.rgb, (1280, 960), interpolation=cv2.INTER_LINEAR)
    s_seg, b_seg = find_cells(small.rgb), find_cells(big)
    s_cell = min(s_seg.cells, key=lambda c: c.centroid[0])
    b_cell = min(b_seg.cells, key=lambda c: c.centroid[0])
    a = crop_cell(small.rgb, s_cell, rbc_diameter_px=s_seg.rbc_diameter_px, out_size=96)
    b = crop_cell(big, b_cell, rbc_diameter_px=b_seg.rbc_diameter_px, out_size=96)
    assert a.shape == b.shape == (96, 96, 3) and a.dtype == np.uint8
    # Same content at the same scale: the two crops nearly agree pixel by pixel.
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 20


def _wbc_share(rgb: np.ndarray) -> float:
    """Share of the frame that is white cell (blue above red: nucleus and cytoplasm, not red cells)."""
    a = rgb.astype(int)
    return float((a[..., 2] > a[..., 0] + 5).mean())


@pytest.mark.parametrize("seed", [19, 31, 33])
def test_it_reframes_tight_and_wide_crops_of_one_cell_to_the_same_framing(seed):
    # Another lab's cell images: one wide (5.5 red cells across), one tight (2.3) at twice the magnification.
    smear = make_smear(width=640, height=480, rbc_diameter=40, n_single=1, n_pairs=0, seed=seed)
    x, y = smear.wbc_centres[0]
    pad = 200
    field = cv2.copyMakeBorder(smear.rgb, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=BACKGROUND)
    x, y = int(x) + pad, int(y) + pad
    wide = field[y - 110 : y + 111, x - 110 : x + 111]
    tight = cv2.resize(field[y - 45 : y + 46, x - 45 : x + 46], (182, 182), interpolation=cv2.INTER_LINEAR)
    centre = CellRegion(0, (0, 0, 1, 1), (x, y), 1, False, None)
    own = _wbc_share(crop_cell(field, centre, rbc_diameter_px=40, out_size=64))
    out, seg = reframe_cell(wide, out_size=64)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8 and len(seg.cells) == 1
    assert abs(seg.rbc_diameter_px - 40) < 6  # whole red cells in view: the scale is measured
    assert abs(_wbc_share(out) - own) < 0.03
    # A tight crop shows no whole red cell, so its scale is a guess (the frame taken as our framing, or the
    # cell's own size when it fills the frame): the cell is never blown up, and stays within 2x our share.
    out, seg = reframe_cell(tight, out_size=64)
    assert len(seg.cells) == 1
    assert _wbc_share(out) <= _wbc_share(cv2.resize(tight, (64, 64))) + 0.02 and _wbc_share(out) < 2.0 * own


def test_reframing_an_image_without_a_cell_returns_it_resized():
    blank = np.empty((120, 90, 3), np.uint8)
    blank[:] = BACKGROUND
    out, seg = reframe_cell(blank, out_size=48)
    assert out.shape == (48, 48, 3) and seg.cells == []


def test_crops_pad_with_the_slide_background_at_the_border():
    smear = make_smear(n_pairs=0, seed=18)
    seg = find_cells(smear.rgb)
    corner = CellRegion(99, (0, 0, 10, 10), (0.0, 0.0), 100, True, np.array([[0, 0], [9, 0], [9, 9]], np.int32))
    crop = crop_cell(smear.rgb, corner, rbc_diameter_px=seg.rbc_diameter_px, out_size=64)
    assert np.abs(crop[2, 2].astype(int) - np.array(BACKGROUND)).max() < 20  # not black


def test_crops_can_mask_the_background_out():
    smear = make_smear(n_pairs=0, seed=19)
    seg = find_cells(smear.rgb)
    cell = seg.cells[0]
    crop = crop_cell(smear.rgb, cell, rbc_diameter_px=seg.rbc_diameter_px, mask_background=True, cell_scale=4.0)
    corners = np.stack([crop[0, 0], crop[0, -1], crop[-1, 0], crop[-1, -1]]).astype(int)
    assert np.abs(corners - np.array(BACKGROUND)).max() < 20
    assert crop.shape == (128, 128, 3)


def test_the_cli_prints_one_json_line_per_image_and_fails_at_the_end(tmp_path, capsys):
    good = tmp_path / "smear.png"
    cv2.imwrite(str(good), cv2.cvtColor(make_smear(n_pairs=0, seed=20).rgb, cv2.COLOR_RGB2BGR))
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    out = tmp_path / "out"
    rc = main([str(bad), str(good), "--json", "--out", str(out)])
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rc == 1
    assert lines[0] == {"image": str(bad), "error": "not_an_image", "message": lines[0]["message"]}
    rec = lines[1]
    assert set(rec) >= {"image", "width", "height", "rbc_diameter_px", "quality", "cells"}
    assert (rec["width"], rec["height"]) == (640, 480)
    assert set(rec["quality"]) >= {"focus", "stain", "flags"}
    assert len(rec["cells"]) == 3
    for cell in rec["cells"]:
        assert set(cell) == {"id", "bbox", "centroid", "area_px", "touches_border"}
        assert len(cell["bbox"]) == 4 and len(cell["centroid"]) == 2
    assert (out / "smear_overlay.png").exists()
    assert len(list(out.glob("smear_cell*.png"))) == 3


def test_the_cli_exits_zero_when_every_image_is_fine(tmp_path, capsys):
    good = tmp_path / "smear.png"
    cv2.imwrite(str(good), cv2.cvtColor(make_smear(seed=21).rgb, cv2.COLOR_RGB2BGR))
    assert main([str(good), "--json"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


BCCD = datasets_root() / "BCCD" / "BCCD"
IDB2 = datasets_root() / "ALL-IDB" / "ALL_IDB2" / "img"


@pytest.mark.datasets
@pytest.mark.skipif(not BCCD.exists(), reason="BCCD not available")
def test_it_finds_bccd_white_cells():
    from inference.io import load_image
    from inference.segmentation.matching import cell_box, match_boxes
    from inference.training.datasets import bccd_images

    images = [im for im in bccd_images(split="test") if len(im.wbc_boxes) == 1][:10]
    matches = [match_boxes([cell_box(c) for c in find_cells(load_image(im.path)).cells], im.wbc_boxes) for im in images]
    assert sum(len(m.pairs) for m in matches) >= 9


@pytest.mark.datasets
@pytest.mark.skipif(not IDB2.exists(), reason="ALL-IDB2 not available")
def test_it_isolates_the_centre_cell_of_all_idb2_crops():
    from inference.io import load_image
    from inference.training.datasets import idb2_crops

    crops = idb2_crops()[::40]
    for crop in crops:
        rgb = load_image(crop.path)
        seg = find_cells(rgb, single_cell=True)
        assert len(seg.cells) == 1, crop.path.name
        cx, cy = seg.cells[0].centroid
        h, w = rgb.shape[:2]
        assert abs(cx - w / 2) < w / 4 and abs(cy - h / 2) < h / 4, crop.path.name


# ------------------------------------------------------------------ dataset readers (inference.datasets)


def test_the_dataset_readers_parse_a_small_tree_and_drop_duplicates(tmp_path):
    from inference.training.datasets import bccd_images, idb1_smears

    idb1 = tmp_path / "ALL-IDB" / "ALL_IDB1"
    for sub in ("im", "xyc", "other_AngeloUNIMI_GPL3"):
        (idb1 / sub).mkdir(parents=True)
    for name in ("Im001_1", "Im093_0", "Im108_0"):
        (idb1 / "im" / f"{name}.jpg").write_bytes(b"")
    (idb1 / "xyc" / "Im001_1.xyc").write_text("10\t20\n30 40\n")
    (idb1 / "other_AngeloUNIMI_GPL3" / "Im001_1.xyc").write_text("5 6\n")
    smears = idb1_smears(tmp_path)
    assert [s.name for s in smears] == ["Im001_1", "Im093_0"]
    assert smears[0].blasts == [(10.0, 20.0), (30.0, 40.0)] and smears[0].others == [(5.0, 6.0)]
    assert smears[0].label == 1 and smears[1].label == 0 and smears[1].blasts == []

    bccd = tmp_path / "BCCD" / "BCCD"
    (bccd / "Annotations").mkdir(parents=True)
    (bccd / "JPEGImages").mkdir()
    (bccd / "JPEGImages" / "BloodImage_00001.jpg").write_bytes(b"")
    box = "<object><name>{}</name><bndbox><xmin>{}</xmin><ymin>2</ymin><xmax>50</xmax><ymax>60</ymax></bndbox></object>"
    (bccd / "Annotations" / "BloodImage_00001.xml").write_text(
        "<annotation>" + box.format("WBC", 1) + box.format("RBC", 3) + box.format("Platelets", 4) + "</annotation>"
    )
    images = bccd_images(tmp_path)
    assert len(images) == 1 and images[0].wbc_boxes == [(1, 2, 50, 60)] and images[0].rbc_boxes == [(3, 2, 50, 60)]


IDB1 = datasets_root() / "ALL-IDB" / "ALL_IDB1" / "im"


@pytest.mark.datasets
@pytest.mark.skipif(not (IDB1.exists() and BCCD.exists() and IDB2.exists()), reason="datasets not available")
def test_the_dataset_readers_find_the_documented_counts():
    from inference.training.datasets import bccd_images, idb1_smears, idb2_crops

    smears = idb1_smears()
    assert len(smears) == 107 and "Im108_0" not in {s.name for s in smears}
    assert sum(len(s.blasts) for s in smears) == 510
    assert sum(len(s.wbc_boxes) for s in bccd_images()) == 372
    assert len(idb2_crops()) == 259
