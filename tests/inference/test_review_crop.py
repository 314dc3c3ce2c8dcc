"""The crop stored for review: the classifier's framing at the smear's own pixels, never below 256 px (issue 12 item 7)."""

import cv2
import numpy as np

from inference.segment import crop_cell, find_cells
from inference.segmentation.crop import REVIEW_MIN_PX, crop_for_review

from .synthetic import make_smear


def _first_cell(scale: float):
    smear = make_smear(n_single=3, n_pairs=0, seed=4)
    rgb = smear.rgb if scale == 1 else cv2.resize(smear.rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    seg = find_cells(rgb)
    assert seg.cells
    return rgb, seg


def test_it_keeps_the_native_pixels_of_a_large_cell():
    rgb, seg = _first_cell(4.0)  # red cells ~4x bigger: the crop window is wider than 256 px
    side = int(round(3.0 * seg.rbc_diameter_px))
    assert side > REVIEW_MIN_PX
    inside = []
    for cell in seg.cells:
        cx, cy = cell.centroid
        x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
        if x0 >= 0 and y0 >= 0 and x0 + side <= rgb.shape[1] and y0 + side <= rgb.shape[0]:
            inside.append((cell, x0, y0))
    assert inside, "no cell whose window lies inside the image"
    cell, x0, y0 = inside[0]
    crop = crop_for_review(rgb, cell, rbc_diameter_px=seg.rbc_diameter_px)
    assert crop.shape == (side, side, 3) and crop.dtype == np.uint8
    np.testing.assert_array_equal(crop, rgb[y0 : y0 + side, x0 : x0 + side])  # the smear's own pixels, unresampled


def test_it_enlarges_a_small_window_to_at_least_256_px_with_the_classifiers_framing():
    rgb, seg = _first_cell(1.0)
    cell = seg.cells[0]
    crop = crop_for_review(rgb, cell, rbc_diameter_px=seg.rbc_diameter_px)
    assert crop.shape[0] == crop.shape[1] >= REVIEW_MIN_PX
    # same window as the classifier's 128 px crop, so a Grad-CAM map laid over it lines up
    small = crop_cell(rgb, cell, rbc_diameter_px=seg.rbc_diameter_px, out_size=64)
    again = cv2.resize(crop, (64, 64), interpolation=cv2.INTER_AREA)
    assert np.abs(again.astype(int) - small.astype(int)).mean() < 6
