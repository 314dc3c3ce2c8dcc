"""Splitting clusters without splitting lobed nuclei: k packed cells give k detections, a lobed cell gives one."""

import pytest

from inference.segment import find_cells
from inference.segmentation.matching import match_points

from .synthetic import make_smear


@pytest.mark.parametrize("seed", [41, 42, 43])
def test_a_bilobed_eosinophil_stays_one_cell(seed):
    # Its granular cytoplasm is coloured like red cells, so the cell mask is two lobes at a waist.
    smear = make_smear(n_single=1, n_pairs=1, n_eosinophils=2, seed=seed)
    seg = find_cells(smear.rgb)
    m = match_points(seg.cells, smear.wbc_centres)
    assert (len(m.matched), m.merged, m.missed) == (len(smear.wbc_centres), [], [])
    assert len(seg.cells) == len(smear.wbc_masks)


@pytest.mark.parametrize("seed", [44, 45])
def test_a_neutrophil_with_three_or_four_lobes_stays_one_cell(seed):
    smear = make_smear(n_single=1, n_pairs=0, n_lobed=3, seed=seed)
    seg = find_cells(smear.rgb)
    assert len(seg.cells) == len(smear.wbc_masks)
    assert match_points(seg.cells, smear.wbc_centres).merged == []


@pytest.mark.parametrize("seed,k", [(12, 3), (51, 3), (52, 4), (53, 4)])
def test_a_packed_cluster_of_k_blasts_gives_k_cells(seed, k):
    smear = make_smear(n_single=1, n_pairs=0, n_clusters=1, cluster_size=k, n_lobed=1, n_eosinophils=1, seed=seed)
    seg = find_cells(smear.rgb)
    m = match_points(seg.cells, smear.wbc_centres)
    assert m.merged == [] and m.missed == []
    assert len(seg.cells) == len(smear.wbc_masks)
