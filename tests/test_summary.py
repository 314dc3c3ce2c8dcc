"""The slide summary: Wilson interval and the screening call."""

import pytest

from inference.summary import summarize, wilson_interval
from inference.types import Quality


def test_it_matches_a_known_wilson_interval():
    lo, hi = wilson_interval(5, 20)
    assert lo == pytest.approx(0.1119, abs=1e-3)
    assert hi == pytest.approx(0.4687, abs=1e-3)


def test_it_keeps_the_estimate_inside_its_interval_at_the_extremes():
    for n in (1, 7, 100, 1000):
        assert wilson_interval(n, n)[1] == 1.0
        assert wilson_interval(0, n)[0] == 0.0


def test_it_gives_the_widest_interval_for_no_cells():
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_it_calls_a_slide_with_blasts_suspicious():
    s = summarize([0.1, 0.9, 0.2, 0.3])
    assert (s.n_cells, s.n_blast, s.call) == (4, 1, "suspicious")
    assert s.blast_fraction == pytest.approx(0.25)
    assert s.max_p_blast == pytest.approx(0.9)


def test_it_calls_a_clean_slide_negative():
    assert summarize([0.1, 0.2, 0.05]).call == "negative"


def test_it_refuses_to_call_too_few_cells_negative():
    assert summarize([0.1]).call == "insufficient"
    assert summarize([]).call == "insufficient"


def test_it_refuses_to_call_a_blurred_field():
    blurred = Quality(focus=3.0, stain={}, flags=("out_of_focus",))
    assert summarize([0.9, 0.8, 0.1, 0.2], blurred).call == "insufficient"
