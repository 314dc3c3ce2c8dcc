"""The slide gallery and cell images."""

from alllab.analysis.models import AnalysisRun
from alllab.analysis.services import run_execute
from tests.alllab.factories import AnalysisRunFactory
from tests.alllab.stubs import StubPredictor


def test_it_shows_outlines_crops_and_summary_of_a_done_run(tech_client, lab):
    run = AnalysisRunFactory(slide__case__lab=lab)
    run_execute(run_id=run.id, predictor=StubPredictor([0.95, 0.4, 0.1]))
    page = tech_client.get(f"/analysis/slides/{run.slide_id}/")
    assert page.status_code == 200
    assert page.text.count("<polygon") == 3 and 'points="4,4 14,4 14,14 4,14"' in page.text
    assert page.text.count('class="cell-card') == 3
    assert page.text.index("0.95") < page.text.index("0.40") < page.text.index("0.10")  # most likely blast first
    assert "Suspicious" in page.text and "stub 0.0-test" in page.text and '<svg class="histogram"' in page.text


def test_it_shows_the_reason_of_a_failed_run(tech_client, lab):
    run = AnalysisRunFactory(slide__case__lab=lab, status=AnalysisRun.Status.FAILED, error="x.txt: not an image")
    page = tech_client.get(f"/analysis/slides/{run.slide_id}/")
    assert "Analysis failed" in page.text and "x.txt: not an image" in page.text


def test_it_serves_crops_and_heatmaps_only_to_the_lab(tech_client, client, lab, other_lab):
    run = AnalysisRunFactory(slide__case__lab=other_lab)
    run_execute(run_id=run.id, predictor=StubPredictor([0.5]))
    cell = run.cells.get()
    assert tech_client.get(f"/analysis/cells/{cell.id}/crop.png").status_code == 404
    assert tech_client.get(f"/analysis/slides/{run.slide_id}/").status_code == 404
    mine = AnalysisRunFactory(slide__case__lab=lab)
    run_execute(run_id=mine.id, predictor=StubPredictor([0.5]))
    cell = mine.cells.get()
    for kind in ["crop", "heatmap"]:
        response = tech_client.get(f"/analysis/cells/{cell.id}/{kind}.png")
        assert response.status_code == 200 and response["Content-Type"] == "image/png"


def test_it_shows_an_older_run_on_request(tech_client, lab):
    old = AnalysisRunFactory(slide__case__lab=lab)
    run_execute(run_id=old.id, predictor=StubPredictor([0.9]))
    new = AnalysisRunFactory(slide=old.slide)
    run_execute(run_id=new.id, predictor=StubPredictor([0.1, 0.2]))
    assert tech_client.get(f"/analysis/slides/{old.slide_id}/").text.count('class="cell-card') == 2
    assert tech_client.get(f"/analysis/slides/{old.slide_id}/?run={old.id}").text.count('class="cell-card') == 1
    assert tech_client.get(f"/analysis/slides/{old.slide_id}/?run=999999").status_code == 404


def test_it_marks_cells_cut_by_the_border(tech_client, lab):
    run = AnalysisRunFactory(slide__case__lab=lab)
    run_execute(run_id=run.id, predictor=StubPredictor([0.95, 0.4, 0.1]))
    run.cells.filter(index=0).update(touches_border=True)
    page = tech_client.get(f"/analysis/slides/{run.slide_id}/")
    assert page.text.count("Cut by border · not counted") == 1
    assert page.text.count('class="outline p-vhigh border"') + page.text.count(' border"') >= 1
