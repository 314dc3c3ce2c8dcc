"""The report dataclasses refuse what no message could carry, and say plainly what is pending or failed."""

from datetime import datetime

import pytest

from alllab.analysis.summaries import Summary
from alllab.interop.report import SlideResult, default_conclusion, percent

from .factories import done_slide, report


def test_it_rejects_an_unknown_report_status():
    with pytest.raises(ValueError, match="report status"):
        report(status="draft")


def test_it_rejects_a_naive_issue_time():
    with pytest.raises(ValueError, match="timezone"):
        report(issued_at=datetime(2026, 1, 1))


def test_it_rejects_an_unknown_call_and_an_impossible_fraction():
    with pytest.raises(ValueError, match="call"):
        Summary(1, 0, 0.0, (0.0, 1.0), 0.1, "maybe")
    with pytest.raises(ValueError, match="blast_fraction"):
        Summary(1, 2, 2.0, (0.0, 1.0), 0.1, "suspicious")


def test_it_lists_each_model_version_once_in_slide_order():
    r = report(
        slides=(
            done_slide(1, model_version="1.0"),
            done_slide(2, model_version="2.0"),
            done_slide(3, model_version="1.0"),
            SlideResult(4, "x.png", "failed", model_name="hybrid-vgg", model_version="3.0", error="bad"),
        )
    )
    assert [(m.name, m.version) for m in r.models] == [("hybrid-vgg", "1.0"), ("hybrid-vgg", "2.0")]


def test_it_describes_done_failed_and_pending_slides():
    text = default_conclusion(
        (done_slide(1), SlideResult(2, "b.png", "failed", error="not an image"), SlideResult(3, "c.png", "queued"))
    )
    assert "smear-1.png: suspicious, 4 of 40 white cells" in text
    assert "(10.0%, 95% CI 3.96-23.05%)" in text
    assert "b.png: analysis failed (not an image)" in text
    assert "c.png: analysis pending" in text
    assert "not a diagnosis" in text


def test_it_prefers_the_pathologists_conclusion():
    assert report(conclusion="  Blasts confirmed.  ").conclusion_text == "Blasts confirmed."


def test_it_rounds_percentages_to_hundredths():
    assert percent(0.123456) == 12.35
