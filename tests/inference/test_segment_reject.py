"""Non-white-cell rejection (``inference.segmentation.reject``): platelets and clumps out, white cells kept."""

import numpy as np
import pytest

from inference.segment import find_cells
from inference.segmentation.reject import RegionFeatures, is_white_cell, region_features

from .synthetic import make_smear


def _hits(seg, centres):
    """For each (x, y), how many detected cells contain it."""
    import cv2

    out = []
    for x, y in centres:
        n = sum(
            cv2.pointPolygonTest(c.contour.reshape(-1, 1, 2).astype(np.float32), (float(x), float(y)), False) >= 0
            for c in seg.cells
        )
        out.append(n)
    return out


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_it_counts_white_cells_and_not_platelets_or_clumps(seed):
    smear = make_smear(n_single=3, n_pairs=0, n_platelets=12, n_clumps=3, seed=seed)
    seg = find_cells(smear.rgb)
    assert _hits(seg, smear.wbc_centres) == [1] * len(smear.wbc_centres)
    assert len(seg.cells) == len(smear.wbc_masks)


def test_region_features_are_relative_to_the_red_cell():
    labels = np.zeros((100, 100), np.int32)
    nucleus = np.zeros((100, 100), bool)
    labels[10:30, 10:30] = 1  # 400 px
    nucleus[10:30, 10:20] = True  # 200 px nucleus
    labels[50:54, 50:54] = 2  # 16 px, all nucleus: a platelet
    nucleus[50:54, 50:54] = True
    rbc_px = 2.0 * np.sqrt(400 / np.pi)  # one red-cell area = 400 px
    f = region_features(labels, nucleus, rbc_px)
    assert f[1].area_rbc == pytest.approx(1.0) and f[1].nucleus_rbc == pytest.approx(0.5)
    assert f[1].nucleus_fraction == pytest.approx(0.5)
    assert is_white_cell(f[1])
    assert f[2].area_rbc == pytest.approx(0.04)
    assert not is_white_cell(f[2])


def test_a_pale_blob_with_a_speck_of_stain_is_not_a_white_cell():
    assert not is_white_cell(RegionFeatures(area_rbc=2.0, nucleus_rbc=0.3, nucleus_fraction=0.15))
    assert is_white_cell(RegionFeatures(area_rbc=2.0, nucleus_rbc=1.0, nucleus_fraction=0.5))
