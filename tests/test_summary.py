"""The slide summary: Wilson interval and the screening call."""

import pytest

from inference.summary import NEGATIVE_MIN_CELLS, call_statement, summarize, summarize_case, wilson_interval
from inference.types import Quality, Summary


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


def test_it_calls_a_clean_slide_of_enough_cells_negative():
    assert summarize([0.1, 0.2, 0.05] * 34).call == "negative"  # 102 cells


def test_it_refuses_to_call_too_few_cells_negative():
    assert summarize([0.1]).call == "insufficient"
    assert summarize([]).call == "insufficient"
    assert summarize([0.1] * (NEGATIVE_MIN_CELLS - 1)).call == "insufficient"
    assert summarize([0.1] * NEGATIVE_MIN_CELLS).call == "negative"


def test_it_bounds_a_negative_near_three_over_n():
    # the reason for the minimum: with no blast among n cells the upper 95% bound is about 3/n
    hi = summarize([0.1] * NEGATIVE_MIN_CELLS).blast_fraction_ci95[1]
    assert 0.03 <= hi <= 0.04


def test_it_gives_a_small_field_with_a_blast_a_fair_call():
    # a phone adapter's 224 px patch: one or two cells, no field-size rule stands in the way of what they show
    assert summarize([0.95]).call == "suspicious"
    assert summarize([0.1, 0.95]).call == "suspicious"
    assert summarize([0.1, 0.2]).call == "insufficient"  # nothing seen, too few to say negative: the case sums


def _slide(n, k=0, call=None, flags=(), max_p=0.2):
    call = call or ("suspicious" if k else "insufficient" if n < NEGATIVE_MIN_CELLS else "negative")
    return Summary(n, k, k / n if n else 0.0, wilson_interval(k, n), max_p, call, tuple(flags))


def test_it_sums_a_cases_slides_under_the_same_minimum():
    few = summarize_case([_slide(1), _slide(2)])
    assert (few.n_cells, few.n_blast, few.call) == (3, 0, "insufficient")
    assert few.blast_fraction_ci95[1] > 0.5
    many = summarize_case([_slide(1)] * 60 + [_slide(2)] * 20)  # eighty phone patches: 100 cells together
    assert (many.n_cells, many.call) == (100, "negative")


def test_it_leaves_an_unreadable_slide_out_of_a_cases_count_and_keeps_its_flags():
    case = summarize_case([_slide(150, flags=("out_of_focus",)), _slide(20)])
    assert (case.n_cells, case.call) == (20, "insufficient")
    assert "out_of_focus" in case.flags
    only = summarize_case([_slide(150, flags=("stain_out_of_range",))])
    assert (only.n_cells, only.call) == (0, "insufficient")
    assert "too_few_cells" not in summarize_case([_slide(1, flags=("too_few_cells",)), _slide(120)]).flags


def test_it_makes_a_case_with_an_unvalidated_slide_unvalidated_unless_suspicious():
    odd = _slide(80, call="unvalidated", flags=("out_of_domain", "domain_stain"))
    case = summarize_case([_slide(150), odd])
    assert case.call == "unvalidated" and "domain_stain" in case.flags
    assert case.n_cells == 230  # its cells are still counted and reported
    assert summarize_case([_slide(150, k=2), odd]).call == "suspicious"
    # blasts seen only on the out-of-domain slide do not make a call: it stays unvalidated, for review
    assert summarize_case([_slide(150), _slide(80, k=5, call="unvalidated", flags=("out_of_domain",))]).call == (
        "unvalidated"
    )


def test_it_states_the_call_with_its_count():
    assert call_statement(summarize([0.1] * 3)).startswith("Insufficient: 0 blasts among 3 white cells")
    assert "a negative needs at least 100" in call_statement(summarize([0.1] * 3))
    assert call_statement(summarize([0.1] * 120)) == "Negative: no blast among 120 white cells (upper 95% bound 3%)."
    assert "out of focus" in call_statement(summarize([0.1] * 5, Quality(1.0, {}, ("out_of_focus",))))


def test_it_refuses_to_call_a_blurred_field():
    blurred = Quality(focus=3.0, stain={}, flags=("out_of_focus",))
    assert summarize([0.9, 0.8, 0.1, 0.2], blurred).call == "insufficient"
