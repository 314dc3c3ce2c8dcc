"""Lobe regrouping for big lobes (``cells.merge_lobes`` with ``LOBE_MAX_NUCLEUS_FRACTION``): the two halves of one
lobed cell whose lobes are thicker than ``LOBE_MAX_RADIUS_RBC`` are joined when the pair is not mostly nucleus;
two halves that are mostly nucleus (packed blasts) are not. The constants are set here explicitly (as shipped, without
the nucleus-gap condition), so the tests do not follow later retuning."""

import cv2
import numpy as np
import pytest

from inference.segmentation import cells as C

RBC = 24.0


def _disc(shape, x, y, r):
    m = np.zeros(shape, np.uint8)
    cv2.circle(m, (round(x), round(y)), round(r), 1, -1)
    return m.astype(bool)


def _halves(cell, cx):
    labels = np.zeros(cell.shape, np.int32)
    xs = np.arange(cell.shape[1])[None, :]
    labels[cell & (xs < cx)] = 1
    labels[cell & (xs >= cx)] = 2
    return labels


@pytest.fixture
def big_lobes(monkeypatch):
    monkeypatch.setattr(C, "LOBE_MAX_RADIUS_RBC", 0.5)
    monkeypatch.setattr(C, "LOBE_BIG_RADIUS_RBC", 0.7)
    monkeypatch.setattr(C, "LOBE_MAX_NUCLEUS_FRACTION", 0.6)
    monkeypatch.setattr(C, "LOBE_MAX_GAP_RBC", 0.0)
    monkeypatch.setattr(C, "LOBE_BIG_MIN_SOLIDITY", 0.96)
    monkeypatch.setattr(C, "LOBE_BIG_MIN_RBC_PX", 20.0)


def _lobed_cell():
    shape, cx, cy = (160, 160), 80, 80
    cell = _disc(shape, cx, cy, 1.2 * RBC)
    lobes = _disc(shape, cx - 0.55 * RBC, cy, 0.6 * RBC) | _disc(shape, cx + 0.55 * RBC, cy, 0.6 * RBC)
    return _halves(cell, cx), lobes, np.zeros(shape, bool)


def test_a_cell_cut_between_two_big_lobes_is_joined_again(big_lobes):
    labels, lobes, background = _lobed_cell()
    out = C.merge_lobes(labels, lobes, background, RBC)
    assert len(np.unique(out[labels > 0])) == 1


def test_without_the_big_lobe_rule_it_stays_cut(big_lobes, monkeypatch):
    monkeypatch.setattr(C, "LOBE_MAX_NUCLEUS_FRACTION", 1.0)  # as before: lobes must be < 0.5 diameters
    labels, lobes, background = _lobed_cell()
    out = C.merge_lobes(labels, lobes, background, RBC)
    assert len(np.unique(out[labels > 0])) == 2


def test_two_halves_that_are_mostly_nucleus_stay_apart(big_lobes):
    shape, cx, cy = (160, 160), 80, 80
    cell = _disc(shape, cx, cy, 1.2 * RBC)
    nucleus = _disc(shape, cx, cy, 1.1 * RBC)  # ~84% nucleus, each half's inscribed radius ~0.55 diameters
    labels = _halves(cell, cx)
    out = C.merge_lobes(labels, nucleus, np.zeros(shape, bool), RBC)
    assert len(np.unique(out[labels > 0])) == 2
