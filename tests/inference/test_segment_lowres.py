"""Low resolution and other labs' stains: red cells 10-15 px, fields 224x224 to 2592x1944, paler, bluer and pinker
backgrounds. The scale estimate, the clusters and the crops must still be right (synthetic smears, exact truth)."""

import numpy as np
import pytest

from inference.segment import crop_cell, find_cells
from inference.segmentation.matching import match_points
from inference.segmentation.scale import estimate_rbc_diameter

from .synthetic import BACKGROUND, make_smear

BACKGROUNDS = {
    "usual": BACKGROUND,
    "paler": (248, 245, 240),
    "bluer": (214, 224, 238),
    "pinker": (242, 214, 216),
}
# (width, height, red-cell diameter, isolated white cells, touching pairs)
FIELDS = {
    "224x224 at 10 px": (224, 224, 10, 4, 0),
    "224x224 at 15 px": (224, 224, 15, 3, 0),
    "640x480 at 12 px": (640, 480, 12, 6, 1),
    "2592x1944 at 15 px": (2592, 1944, 15, 40, 6),
}


@pytest.mark.parametrize("background", BACKGROUNDS.values(), ids=BACKGROUNDS.keys())
@pytest.mark.parametrize("field", FIELDS.values(), ids=FIELDS.keys())
def test_small_red_cells_and_other_stains(field, background):
    width, height, d, n_single, n_pairs = field
    smear = make_smear(
        width=width, height=height, rbc_diameter=d, n_single=n_single, n_pairs=n_pairs, background=background, seed=61
    )
    seg = find_cells(smear.rgb)
    assert seg.rbc_diameter_px == pytest.approx(d, rel=0.25)
    m = match_points(seg.cells, smear.wbc_centres)
    # Every white cell has a detection of its own (touching pairs split), and nothing else is detected.
    assert m.missed == [] and m.merged == []
    assert len(seg.cells) == len(smear.wbc_masks)
    # Crops are scale-normalised: the cell's own detection sits centred, a red cell spans out_size / 3 px.
    cell = seg.cells[0]
    crop = crop_cell(smear.rgb, cell, rbc_diameter_px=seg.rbc_diameter_px, out_size=96)
    assert crop.shape == (96, 96, 3)
    centre = crop[40:56, 40:56].astype(float).mean(axis=(0, 1))
    assert centre[2] > centre[1] + 20  # nucleus or cytoplasm (blue-violet) at the centre, not background


def test_a_big_field_of_small_red_cells_is_measured_at_a_resolution_where_they_show():
    # Shrunk to 512 px for the first estimate, 12 px red cells are 2.4 px across: the second, cropped, estimate
    # must take over.
    smear = make_smear(width=2592, height=1944, rbc_diameter=12, n_single=30, n_pairs=4, seed=62)
    est = estimate_rbc_diameter(smear.rgb)
    assert est.rbc_diameter_px == pytest.approx(12, rel=0.25)
    seg = find_cells(smear.rgb)
    m = match_points(seg.cells, smear.wbc_centres)
    assert len(m.matched) >= 0.95 * len(smear.wbc_centres) and m.merged == []


def test_the_scale_estimate_follows_magnification_on_other_stains():
    for background in BACKGROUNDS.values():
        small = make_smear(width=320, height=240, rbc_diameter=12, background=background, seed=63)
        big = make_smear(width=960, height=720, rbc_diameter=36, background=background, seed=63)
        ratio = estimate_rbc_diameter(big.rgb).rbc_diameter_px / estimate_rbc_diameter(small.rgb).rbc_diameter_px
        assert ratio == pytest.approx(3.0, rel=0.2)
        assert np.isfinite(ratio)
