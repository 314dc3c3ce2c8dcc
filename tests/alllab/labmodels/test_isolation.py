"""Lab isolation: lab B never sees, opens, activates or cancels lab A's models and jobs, by page or by API."""

from __future__ import annotations

import pytest

from alllab.accounts.scope import scope_for_user
from alllab.labmodels.models import AdaptationJob, LabModel
from alllab.labmodels.selectors import lab_model_list
from tests.alllab.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def a_models(lab, lab_admin):
    shipped = LabModel.objects.create(
        lab=lab, kind="shipped", status="retired", name="hybrid_vgg", version="1", sha256="a" * 64
    )
    adapted = LabModel.objects.create(
        lab=lab,
        kind="adapted",
        status="active",
        name="hybrid_vgg",
        version="1+north.1",
        sha256="b" * 64,
        base=shipped,
        replaced=shipped,
        evaluation={"gate": {"passed": True, "rules": []}},
    )
    candidate = LabModel.objects.create(
        lab=lab,
        kind="adapted",
        name="hybrid_vgg",
        version="1+north.2",
        sha256="c" * 64,
        base=adapted,
        evaluation={"gate": {"passed": True, "rules": []}},
    )
    job = AdaptationJob.objects.create(lab=lab, created_by=lab_admin, training_set=[], status="running")
    return shipped, adapted, candidate, job


@pytest.fixture
def b_admin(other_lab):
    user = UserFactory()
    MembershipFactory(user=user, lab=other_lab, role="lab_admin")
    return user


def test_it_shows_lab_b_none_of_lab_a_models(a_models, b_admin, other_lab, client):
    assert not lab_model_list(scope=scope_for_user(b_admin)).exists()
    client.force_login(b_admin)
    page = client.get("/lab/models/")
    assert page.status_code == 200 and "1+north" not in page.text
    assert client.get(f"/lab/models/?lab={a_models[0].lab_id}").status_code == 404
    assert client.get("/api/v1/models/").json() == []
    assert client.get("/api/v1/models/active/").json() == [{"lab": other_lab.slug, "model": None}]


def test_it_answers_404_to_lab_a_ids(a_models, b_admin, client):
    shipped, adapted, candidate, job = a_models
    client.force_login(b_admin)
    for model in a_models[:3]:
        assert client.get(f"/lab/models/{model.pk}/").status_code == 404
        assert client.get(f"/api/v1/models/{model.pk}/").status_code == 404
    assert client.post(f"/lab/models/{candidate.pk}/activate/").status_code == 404
    assert client.get(f"/lab/models/jobs/{job.pk}.json").status_code == 404
    assert client.post(f"/lab/models/jobs/{job.pk}/cancel/").status_code == 404
    assert client.post("/lab/models/rollback/", {"lab": adapted.lab_id}).status_code == 404
    candidate.refresh_from_db()
    adapted.refresh_from_db()
    job.refresh_from_db()
    assert candidate.status == "candidate" and adapted.status == "active" and not job.cancel_requested


def test_it_shows_a_pathologist_the_models_by_api_but_not_the_training_page(a_models, lab, pathologist, client):
    client.force_login(pathologist)
    assert [m["version"] for m in client.get("/api/v1/models/").json()] == ["1+north.2", "1+north.1", "1"]
    assert client.get(f"/lab/models/{a_models[2].pk}/").status_code == 403
    assert client.get(f"/lab/models/jobs/{a_models[3].pk}.json").status_code == 404


def test_it_calibrates_only_on_the_labs_own_analysed_smears_outside_the_held_out_cases(lab, other_lab):
    from alllab.analysis.adaptation_jobs import lab_unlabelled_smears
    from alllab.analysis.models import AnalysisRun
    from tests.alllab.factories import AnalysisRunFactory

    _, held = (AnalysisRunFactory(slide__case__lab=lab, status=AnalysisRun.Status.DONE) for _ in range(2))
    AnalysisRunFactory(slide__case__lab=lab, status=AnalysisRun.Status.QUEUED)  # not analysed yet
    AnalysisRunFactory(slide__case__lab=other_lab, status=AnalysisRun.Status.DONE)  # another lab's smear
    smears = list(lab_unlabelled_smears(lab.pk)([held.slide.case_id]))
    assert len(smears) == 1 and smears[0].ndim == 3 and smears[0].shape[2] == 3
    assert len(list(lab_unlabelled_smears(lab.pk)([]))) == 2
