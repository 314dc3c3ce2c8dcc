"""Agreement between the model and the reviewers: Cohen's kappa by hand, the matrix, the lab-admin page."""

import pytest
from django.utils import timezone

from alllab.accounts.scope import scope_for_user
from alllab.analysis.models import AnalysisRun
from alllab.review.agreement import agreement_by_model, agreement_for, cohen_kappa
from alllab.review.models import CellReview
from tests.alllab.factories import AnalysisRunFactory, CellFactory, SlideFactory


def test_it_computes_cohens_kappa_as_by_hand():
    # 20 both blast, 5 AI only, 10 reviewer only, 15 neither: po = 0.7, pe = 0.5*0.6 + 0.5*0.4 = 0.5, kappa = 0.4.
    pairs = [(1, 1)] * 20 + [(1, 0)] * 5 + [(0, 1)] * 10 + [(0, 0)] * 15
    assert cohen_kappa(pairs) == pytest.approx(0.4)
    assert cohen_kappa([(1, 1), (0, 0)]) == pytest.approx(1.0)
    assert cohen_kappa([(1, 0), (0, 1)]) == pytest.approx(-1.0)
    assert cohen_kappa([]) is None
    assert cohen_kappa([(1, 1), (1, 1)]) is None  # chance agreement is 1: undefined


def test_it_builds_the_matrix_and_leaves_artefacts_out_of_kappa():
    pairs = [
        ("blast", "blast"),
        ("blast", "artefact"),
        ("non_blast", "neutrophil"),
        ("non_blast", "blast"),
        ("non_blast", "unsure"),
    ]
    a = agreement_for("m", "1", pairs)
    rows = {r["ai"]: r["counts"] for r in a.matrix}
    # columns: blast, lymphocyte, neutrophil, monocyte, eosinophil, basophil, other_wbc, artefact, unsure
    assert rows == {"blast": [1, 0, 0, 0, 0, 0, 0, 1, 0], "non_blast": [1, 0, 1, 0, 0, 0, 0, 0, 1]}
    assert (a.n_reviewed, a.n_binary) == (5, 3)
    assert a.accuracy == pytest.approx(2 / 3)
    # binary pairs (ai, reviewed): (1,1), (0,0), (0,1): po = 2/3, pe = 1/3*2/3 + 2/3*1/3 = 4/9, kappa = 0.4
    assert a.kappa == pytest.approx(0.4)


def _reviewed(lab, version, pairs, reviewer):
    run = AnalysisRunFactory(
        slide=SlideFactory(case__lab=lab),
        status=AnalysisRun.Status.DONE,
        model_name="hybrid-vgg",
        model_version=version,
    )
    for i, (p, label) in enumerate(pairs):
        cell = CellFactory(run=run, index=i, p_blast=p)
        CellReview.objects.create(cell=cell, label=label, reviewed_by=reviewer, reviewed_at=timezone.now())


@pytest.mark.django_db
def test_it_groups_by_model_version_within_the_admins_labs(lab, other_lab, lab_admin, pathologist):
    _reviewed(lab, "1.0.0", [(0.9, "blast"), (0.1, "lymphocyte")], pathologist)
    _reviewed(lab, "1.1.0", [(0.9, "lymphocyte"), (0.1, "blast"), (0.2, "artefact")], pathologist)
    _reviewed(other_lab, "1.0.0", [(0.9, "lymphocyte")] * 5, pathologist)  # another lab's: not counted
    by_version = {a.model_version: a for a in agreement_by_model(scope=scope_for_user(lab_admin), user=lab_admin)}
    assert set(by_version) == {"1.0.0", "1.1.0"}
    assert (by_version["1.0.0"].n_reviewed, by_version["1.0.0"].kappa) == (2, pytest.approx(1.0))
    assert (by_version["1.1.0"].n_reviewed, by_version["1.1.0"].n_binary) == (3, 2)
    assert by_version["1.1.0"].kappa == pytest.approx(-1.0)
    assert agreement_by_model(scope=scope_for_user(pathologist), user=pathologist) == []  # not a lab admin


@pytest.mark.django_db
def test_the_agreement_page_is_for_lab_admins(client, lab, lab_admin, pathologist):
    _reviewed(lab, "1.0.0", [(0.9, "blast"), (0.1, "lymphocyte"), (0.8, "lymphocyte")], pathologist)
    client.force_login(pathologist)
    assert client.get("/review/agreement/").status_code == 403
    client.force_login(lab_admin)
    page = client.get("/review/agreement/")
    assert page.status_code == 200
    assert "hybrid-vgg 1.0.0" in page.text and 'data-ai="blast"' in page.text
    # (1,1), (0,0), (1,0): po = 2/3, pe = 2/3*1/3 + 1/3*2/3 = 4/9, kappa = (2/3 - 4/9) / (5/9) = 0.4
    assert '<span class="kappa">0.400</span>' in page.text
