"""Border rule: a cell cut by the image border is detected and marked, and left out of counts and fractions."""

import numpy as np
import pytest

from inference.segment import find_cells
from inference.summary import summarize

from .synthetic import make_smear


def _owner(seg, x, y):
    import cv2

    for c in seg.cells:
        if cv2.pointPolygonTest(c.contour.reshape(-1, 1, 2).astype(np.float32), (float(x), float(y)), False) >= 0:
            return c
    return None


@pytest.mark.parametrize("seed", [31, 32])
def test_cells_cut_by_the_border_are_found_and_marked(seed):
    smear = make_smear(n_single=3, n_pairs=0, n_border=3, seed=seed)
    seg = find_cells(smear.rgb)
    h, w = smear.rgb.shape[:2]
    d = smear.rbc_diameter_px
    cut = [min(x, y, w - 1 - x, h - 1 - y) < d for x, y in smear.wbc_centres]
    assert sum(cut) >= 2  # the scene really has cells cut by the edge
    for (x, y), on_edge in zip(smear.wbc_centres, cut, strict=True):
        cell = _owner(seg, x, y)
        assert cell is not None
        assert cell.touches_border == on_edge
    assert len(seg.cells) == len(smear.wbc_masks)


def test_border_cells_are_not_counted_but_max_p_sees_them():
    s = summarize([0.1, 0.2, 0.95, 0.3], touches_border=[False, False, True, False])
    assert (s.n_cells, s.n_blast) == (3, 0)
    assert s.blast_fraction == 0.0
    assert s.max_p_blast == pytest.approx(0.95)
    inner = summarize([0.1, 0.2, 0.95, 0.3], touches_border=[False, False, False, True])
    assert (inner.n_cells, inner.n_blast, inner.blast_fraction) == (3, 1, pytest.approx(1 / 3))
    assert summarize([0.1, 0.9]).n_cells == 2  # no border information: every cell counts


def test_border_flags_must_match_the_cells():
    with pytest.raises(ValueError):
        summarize([0.1, 0.2], touches_border=[False])
