"""Review test fixtures: a case with two analysed slides (and an older, superseded run), clients per role."""

from __future__ import annotations

import pytest

from alllab.analysis.models import AnalysisRun
from alllab.cases.models import Case
from tests.alllab.factories import AnalysisRunFactory, CaseFactory, CellFactory, SlideFactory

MODEL = {"model_name": "hybrid-vgg", "model_version": "1.2.0"}


def done_run(slide, p_blasts, **fields):
    run = AnalysisRunFactory(slide=slide, status=AnalysisRun.Status.DONE, **{**MODEL, **fields})
    cells = [CellFactory(run=run, index=i, p_blast=p) for i, p in enumerate(p_blasts)]
    return run, cells


@pytest.fixture
def review_case(lab, technician):
    """A case awaiting review: slide A (4 cells) and slide B (2 cells) on their current runs.

    Slide A also has an older run whose cell must never appear in the review.
    Returns (case, cells of the current runs most likely blast first, the superseded cell).
    """
    case = CaseFactory(lab=lab, created_by=technician, accession_number="ACC-R1", patient_pseudonym="PSN-R1")
    slide_a = SlideFactory(case=case, original_filename="slide-a.png")
    slide_b = SlideFactory(case=case, original_filename="slide-b.png")
    _, old_cells = done_run(slide_a, [0.99], model_version="1.0.0")
    _, cells_a = done_run(slide_a, [0.95, 0.8, 0.4, 0.1])
    _, cells_b = done_run(slide_b, [0.7, 0.2])
    Case.objects.filter(pk=case.pk).update(
        status=Case.Status.AWAITING_REVIEW, n_cells=6, n_blast=3, blast_fraction=0.5, call="suspicious"
    )
    case.refresh_from_db()
    cells = sorted(cells_a + cells_b, key=lambda c: -c.p_blast)
    return case, cells, old_cells[0]


def review_rest(case, user, label="lymphocyte"):
    """Give every still unreviewed cell of ``case`` the class ``label``: signing needs every cell reviewed."""
    from alllab.accounts.scope import scope_for_user
    from alllab.review.selectors import review_cells
    from alllab.review.services import cell_reclassify

    left = [c.id for c in review_cells(scope=scope_for_user(user), case=case) if not hasattr(c, "review")]
    if left:
        cell_reclassify(scope=scope_for_user(user), user=user, case=case, cell_ids=left, label=label)


@pytest.fixture
def path_client(client, pathologist):
    client.force_login(pathologist)
    return client


@pytest.fixture
def labadmin_client(client, lab_admin):
    client.force_login(lab_admin)
    return client
