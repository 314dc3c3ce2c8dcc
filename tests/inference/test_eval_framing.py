"""``eval_framing.background_stats``: a cell image's stain statistics without its white cells."""

import cv2
import numpy as np

from inference.stain import lab_stats
from inference.training.eval_framing import background_stats


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
    assert without["std"][0] < whole["std"][0] / 3


def test_a_cell_that_fills_the_image_falls_back_to_the_whole_image():
    rgb, contour = _cell_image(80)
    assert background_stats(rgb, [contour], rbc_diameter_px=30.0) == lab_stats(rgb)
    no_cell = background_stats(rgb, [], rbc_diameter_px=30.0)
    assert np.allclose(no_cell["mean"], lab_stats(rgb)["mean"]) and np.allclose(no_cell["std"], lab_stats(rgb)["std"])
