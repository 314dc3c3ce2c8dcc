"""Pages read the operating point the engine applied to a run, never a threshold of their own."""

from dataclasses import replace

from alllab.analysis.models import Cell
from alllab.analysis.operating import p_band, p_bands, run_operating_point
from alllab.analysis.services import run_execute
from inference.operating import LEGACY_OPERATING_POINT, OperatingPoint
from tests.alllab.factories import AnalysisRunFactory
from tests.alllab.stubs import StubPredictor


class StubAt(StubPredictor):
    """The stub predictor with a checkpoint whose operating point is 0.7."""

    point = OperatingPoint(cell_threshold=0.7, min_blasts=1, chosen_on="test")

    def analyze(self, rgb, **kwargs):
        return replace(super().analyze(rgb, **kwargs), operating_point=self.point)


def test_it_keeps_the_old_bands_at_the_legacy_point():
    assert p_bands(0.5) == (0.3, 0.5, 0.8)
    assert [p_band(p, 0.5) for p in (0.29, 0.3, 0.5, 0.79, 0.8)] == ["p-low", "p-mid", "p-high", "p-high", "p-vhigh"]


def test_it_labels_and_shows_cells_at_the_runs_operating_point(tech_client, lab):
    run = AnalysisRunFactory(slide__case__lab=lab)
    run_execute(run_id=run.id, predictor=StubAt([0.95, 0.6, 0.1]))
    run.refresh_from_db()
    assert run_operating_point(run=run).cell_threshold == 0.7
    labels = dict(Cell.objects.filter(run=run).values_list("p_blast", "ai_label"))
    assert labels == {0.95: "blast", 0.6: "non_blast", 0.1: "non_blast"}  # 0.6 would be a blast at 0.5
    page = tech_client.get(f"/analysis/slides/{run.slide_id}/").text
    assert "&lt; 0.42" in page and "0.7–0.88" in page  # the legend's bands around 0.7
    assert "cells at 0.7 or above are flagged" in page
    assert '<text x="210.0"' in page  # the histogram's tick sits at 0.7 of its 300 wide axis


def test_it_reads_the_legacy_point_for_a_run_that_did_not_record_one(lab):
    assert run_operating_point(run=AnalysisRunFactory(slide__case__lab=lab)) == LEGACY_OPERATING_POINT
