"""``eval_framing.background_stats``: a cell image's stain statistics without its white cells."""

import cv2
import numpy as np
import pytest

from inference.stain import lab_stats
from inference.training.datasets import datasets_root
from inference.training.eval_framing import _cells, _stats_error, background_stats


def _cell_image(radius: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    rgb = np.clip(rng.normal((230, 190, 200), 4, (120, 120, 3)), 0, 255).astype(np.uint8)  # pink field
    cv2.circle(rgb, (60, 60), radius, (90, 50, 150), -1)  # a dark purple cell
    contour = cv2.ellipse2Poly((60, 60), (radius, radius), 0, 0, 360, 10).astype(np.int32)
    return rgb, contour


def test_leaving_the_cell_out_recovers_the_fields_colour():
    rgb, contour = _cell_image(35)
    field = lab_stats(np.ascontiguousarray(rgb[:, :10]))  # a strip with no cell
    whole, without = lab_stats(rgb), background_stats(rgb, [contour], rbc_diameter_px=30.0)
    assert abs(whole["mean"][0] - field["mean"][0]) > 20  # the cell drags the image's lightness down
    assert np.allclose(without["mean"], field["mean"], atol=2.0)
    assert np.allclose(without["median"], field["median"], atol=2.0)  # what a median checkpoint matches
    assert abs(whole["median"][0] - field["median"][0]) < abs(whole["mean"][0] - field["mean"][0])
    assert without["std"][0] < whole["std"][0] / 3


def test_a_cell_that_fills_the_image_falls_back_to_the_whole_image():
    rgb, contour = _cell_image(80)
    assert background_stats(rgb, [contour], rbc_diameter_px=30.0) == lab_stats(rgb)
    no_cell = background_stats(rgb, [], rbc_diameter_px=30.0)
    assert np.allclose(no_cell["mean"], lab_stats(rgb)["mean"]) and np.allclose(no_cell["std"], lab_stats(rgb)["std"])


IDB1 = datasets_root() / "ALL-IDB" / "ALL_IDB1" / "im"


@pytest.mark.skipif(not (IDB1.exists() and (datasets_root() / "BCCD").exists()), reason="datasets not available")
def test_a_held_out_acquisition_keeps_only_its_own_smears_cells():
    # ALL-IDB1's first 33 fields are 1712x1368, the next ones 2592x1944: of the first 35, two are kept
    cells = _cells(35, "2592x1944")
    idb1 = [rgb.shape[:2] for dataset, _, rgb, _ in cells if dataset == "ALL-IDB1"]
    assert idb1 and set(idb1) == {(1944, 2592)}
    assert any(dataset == "BCCD test" for dataset, *_ in cells)  # BCCD's test fields are unseen by every model


def test_the_error_against_the_field_covers_means_spreads_and_medians():
    field = {"mean": [150.0, 130.0, 130.0], "std": [20.0, 5.0, 5.0], "median": [160.0, 129.0, 131.0]}
    image = {"mean": [110.0, 140.0, 120.0], "std": [40.0, 5.0, 10.0], "median": [150.0, 129.0, 133.0]}
    err = _stats_error([image, field], [field, field])
    assert err["mean_abs_L_a_b"] == [20.0, 5.0, 5.0]  # (40 + 0) / 2, ...
    assert err["mean_abs_log_std_ratio_L_a_b"] == [round(np.log(2) / 2, 3), 0.0, round(np.log(2) / 2, 3)]
    assert err["median_abs_L_a_b"] == [5.0, 0.0, 1.0]
