"""Stage 4 of the splitting (``cells.split_by_area``): a mostly-nucleus region of about k blast areas whose fused
nucleus still shows k distance-transform peaks is cut into k cells; one big round blast and a lobed cell are not."""

import numpy as np
import pytest

from inference.segmentation import cells as C

from .synthetic import disc_mask

RBC = 24.0  # red-cell diameter at working resolution


@pytest.fixture
def stage4(monkeypatch):
    monkeypatch.setattr(C, "AREA_SPLIT_BLAST_RBC", 3.0)
    monkeypatch.setattr(C, "AREA_SPLIT_MIN_K", 1.5)
    monkeypatch.setattr(C, "AREA_SPLIT_H_RBC", 0.1)
    monkeypatch.setattr(C, "AREA_SPLIT_SEEDS", "hmax")
    monkeypatch.setattr(C, "AREA_SPLIT_MIN_NUCLEUS_FRACTION", 0.75)


def _labels(mask):
    return mask.astype(np.int32)


def test_two_packed_blasts_with_fused_nuclei_give_two_cells(stage4):
    # Two blasts 1.0 red-cell diameter apart; their nuclei (radius 0.85 diameters) fuse with a waist of
    # half-width 0.69: 0.81 of the radius, above stage 2's neck ratio 0.72 (so stages 1-2 keep it whole, see
    # the last test), but 0.16 diameters below the peaks, more than h = 0.1.
    cy, cx, d = 100, 100, RBC
    cells = disc_mask((200, 200), [(cx - 0.5 * d, cy, 0.95 * d), (cx + 0.5 * d, cy, 0.95 * d)])
    nuclei = disc_mask((200, 200), [(cx - 0.5 * d, cy, 0.85 * d), (cx + 0.5 * d, cy, 0.85 * d)]) & cells
    out = C.split_by_area(_labels(cells), nuclei, RBC)
    parts = [v for v in np.unique(out[cells]) if v]
    assert len(parts) == 2
    # each part holds one of the two nucleus centres
    left, right = out[cy, round(cx - 0.6 * d)], out[cy, round(cx + 0.6 * d)]
    assert left != right and left > 0 and right > 0


def test_one_big_round_blast_stays_one_cell(stage4):
    cell = disc_mask((200, 200), [(100, 100, 1.25 * RBC)])  # 6.25 red-cell areas: a candidate by area
    nucleus = disc_mask((200, 200), [(100, 100, 1.15 * RBC)])
    out = C.split_by_area(_labels(cell), nucleus, RBC)
    assert len(np.unique(out[cell])) == 1


def test_a_region_that_is_not_mostly_nucleus_is_left_alone(stage4):
    cells = disc_mask((200, 200), [(88, 100, 0.95 * RBC), (112, 100, 0.95 * RBC)])
    lobes = disc_mask((200, 200), [(80, 100, 0.45 * RBC), (120, 100, 0.45 * RBC)])  # two lobes, ~35% nucleus
    out = C.split_by_area(_labels(cells), lobes, RBC)
    assert len(np.unique(out[cells])) == 1


def test_stage4_off_leaves_labels_unchanged(monkeypatch):
    monkeypatch.setattr(C, "AREA_SPLIT_BLAST_RBC", 0.0)
    cells = disc_mask((200, 200), [(88, 100, 0.95 * RBC), (112, 100, 0.95 * RBC)])
    out = C.split_cells(cells, RBC, disc_mask((200, 200), [(88, 100, 0.85 * RBC), (112, 100, 0.85 * RBC)]))
    assert len(np.unique(out[cells])) == 1
