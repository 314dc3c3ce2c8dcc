"""``inference.segmentation.matching`` and ``gallery``: one-to-one scoring of detections, error tiles."""

import numpy as np

from inference.segmentation.gallery import ErrorTile, error_tile, tile_grid
from inference.segmentation.matching import box_cover, box_iou, match_boxes, match_points
from inference.types import CellRegion


def _square(i: int, x0: int, y0: int, side: int) -> CellRegion:
    contour = np.array([[x0, y0], [x0 + side, y0], [x0 + side, y0 + side], [x0, y0 + side]], np.int32)
    return CellRegion(i, (x0, y0, side + 1, side + 1), (x0 + side / 2, y0 + side / 2), side * side, False, contour)


def test_it_measures_box_overlap():
    assert box_iou((0, 0, 9, 9), (0, 0, 9, 9)) == 1.0
    assert box_iou((0, 0, 9, 9), (10, 10, 19, 19)) == 0.0
    assert box_iou((0, 0, 9, 9), (5, 0, 14, 9)) == 50 / 150
    assert box_cover((0, 0, 9, 9), (0, 0, 19, 19)) == 1.0


def test_it_matches_each_box_to_at_most_one_detection():
    truths = [(0, 0, 99, 99)]
    detections = [(0, 0, 99, 99), (2, 2, 99, 99)]  # two detections of one cell: one is false
    m = match_boxes(detections, truths)
    assert [(d, t) for d, t, _ in m.pairs] == [(0, 0)]
    assert m.false == [1] and m.missed == []


def test_it_prefers_more_matches_over_one_better_match():
    # Greedy by best IoU would give box 0 to detection 0 and leave box 1 with nothing above 0.5.
    truths = [(0, 0, 99, 99), (30, 0, 129, 99)]
    detections = [(20, 0, 119, 99), (45, 0, 144, 99)]
    greedy_first = max(((box_iou(d, t), i, j) for i, d in enumerate(detections) for j, t in enumerate(truths)))
    assert greedy_first[1:] == (0, 1) and box_iou(detections[1], truths[0]) < 0.5
    m = match_boxes(detections, truths)
    assert len(m.pairs) == 2 and m.missed == [] and m.false == []


def test_it_calls_a_detection_covering_two_cells_merged_and_one_of_them_missed():
    truths = [(0, 0, 49, 49), (50, 0, 99, 49)]
    m = match_boxes([(0, 0, 104, 49)], truths)
    assert m.pairs == [] and m.missed == [0, 1] and m.false == [0]
    assert m.merged == [(0, [0, 1])]
    assert all(0.4 < v < 0.5 for v in m.best_iou)


def test_it_scores_an_image_with_no_detection_or_no_truth():
    assert match_boxes([], [(0, 0, 9, 9)]).missed == [0]
    assert match_boxes([(0, 0, 9, 9)], []).false == [0]


def test_it_gives_each_centroid_a_detection_of_its_own_or_calls_it_merged():
    cells = [_square(0, 0, 0, 40), _square(1, 100, 0, 40)]
    points = [(10.0, 10.0), (30.0, 30.0), (120.0, 20.0), (300.0, 300.0)]
    m = match_points(cells, points)
    assert m.owner == [0, 0, 1, -1]
    assert m.matched == [0, 2] and m.merged == [1] and m.missed == [3]


def test_the_gallery_draws_fixed_size_tiles_in_a_grid():
    rgb = np.full((200, 300, 3), 200, np.uint8)
    tile = ErrorTile("x", (100.0, 100.0), truth_boxes=[(80, 80, 120, 120)], bad=[_square(0, 85, 85, 30)])
    t = error_tile(rgb, tile, rbc_diameter_px=20.0, size=64)
    assert t.shape == (64, 64, 3) and t.dtype == np.uint8
    assert (t != 200).any()  # something was drawn on the plain field
    grid = tile_grid([t] * 7, columns=5, title="seven")
    assert grid.shape == (16 + 2 * 66, 5 * 66, 3)
