"""Stage 5 of the splitting (``cells.split_at_concavity``): a mostly-nucleus region that does not look like one
cell is cut straight between two deep notches of its outline; one round cell, a shallow dent and a region that
is not mostly nucleus are left whole."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from inference.segmentation import cells as C

from .synthetic import disc_mask

RBC = 24.0  # red-cell diameter at working resolution


@pytest.fixture
def stage5(monkeypatch):
    monkeypatch.setattr(C, "CONCAVE_MIN_DEPTH_RBC", 0.15)
    monkeypatch.setattr(C, "CONCAVE_MAX_RATIO", 2.5)
    monkeypatch.setattr(C, "AREA_SPLIT_MIN_NUCLEUS_FRACTION", 0.75)


def _parts(out, mask):
    return [v for v in np.unique(out[mask]) if v]


def test_two_blasts_pressed_together_are_cut_between_the_notches(stage5):
    r = 0.9 * RBC  # two blast-sized discs 1.5 radii apart: 6 red-cell areas, notches 0.3 radii deep
    cells = disc_mask((200, 200), [(100 - 0.75 * r, 100, r), (100 + 0.75 * r, 100, r)])
    out = C.split_at_concavity(cells.astype(np.int32), cells, RBC)
    assert len(_parts(out, cells)) == 2
    left, right = out[100, round(100 - 0.75 * r)], out[100, round(100 + 0.75 * r)]
    assert left and right and left != right
    assert (out[cells] > 0).all()  # the cut line's pixels are given back, nothing of the region is lost


def test_three_in_a_row_give_three_cells(stage5):
    r = 0.9 * RBC
    cells = disc_mask((200, 300), [(150 - 1.5 * r, 100, r), (150, 100, r), (150 + 1.5 * r, 100, r)])
    out = C.split_at_concavity(cells.astype(np.int32), cells, RBC)
    centres = {out[100, round(150 + k * 1.5 * r)] for k in (-1, 0, 1)}
    assert len(_parts(out, cells)) == 3 and len(centres) == 3 and 0 not in centres


def test_one_big_round_cell_is_not_cut(stage5):
    cell = disc_mask((200, 200), [(100, 100, 1.25 * RBC)])
    out = C.split_at_concavity(cell.astype(np.int32), cell, RBC)
    assert len(_parts(out, cell)) == 1


def test_a_shallow_dent_is_not_a_notch(stage5):
    # too big for one cell, so it is a candidate, but its two dents are only 0.08 red-cell diameters deep
    r = 1.3 * RBC
    cell = disc_mask((200, 200), [(100, 100, r)])
    cell &= ~disc_mask((200, 200), [(100, 100 - r - 0.42 * RBC, 0.5 * RBC), (100, 100 + r + 0.42 * RBC, 0.5 * RBC)])
    out = C.split_at_concavity(cell.astype(np.int32), cell, RBC)
    assert len(_parts(out, cell)) == 1


def test_a_region_that_is_not_mostly_nucleus_is_left_alone(stage5):
    r = 0.9 * RBC
    cells = disc_mask((200, 200), [(100 - 0.75 * r, 100, r), (100 + 0.75 * r, 100, r)])
    lobes = disc_mask((200, 200), [(100 - 0.75 * r, 100, 0.45 * RBC), (100 + 0.75 * r, 100, 0.45 * RBC)])
    out = C.split_at_concavity(cells.astype(np.int32), lobes, RBC)
    assert len(_parts(out, cells)) == 1


@pytest.mark.parametrize("depth, parts", [(0.15, 2), (0.0, 1)])
def test_split_cells_runs_stage5_last_and_only_when_on(monkeypatch, depth, parts):
    # the watershed stages keep the pair whole here (as they do for blasts pressed into polygons); stage 5 cuts it
    monkeypatch.setattr(C, "_split_once", lambda mask, seeds_from, rbc_px, **kw: ndi.label(mask)[0].astype(np.int32))
    monkeypatch.setattr(C, "AREA_SPLIT_BLAST_RBC", 0.0)
    monkeypatch.setattr(C, "CONCAVE_MIN_DEPTH_RBC", depth)
    r = 0.9 * RBC
    cells = disc_mask((200, 200), [(100 - 0.75 * r, 100, r), (100 + 0.75 * r, 100, r)])
    out = C.split_cells(cells, RBC, cells.copy())
    assert len(_parts(out, cells)) == parts
