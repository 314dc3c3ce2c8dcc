"""Refusals of the Models page: too few reviewed cells, a second adaptation, a non-admin, an ungated candidate."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied

from alllab.adapt import services
from alllab.labmodels.models import AdaptationJob, LabModel
from alllab.labmodels.services import AdaptationBusy, RegistryError, lab_model_activate
from tests.alllab.labmodels.conftest import review_cells

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_it_refuses_too_few_reviewed_cells_and_says_how_many_more(small_rules, client, lab, lab_admin, pathologist):
    review_cells(lab=lab, reviewer=pathologist, n_cases=2, per_case=4)
    client.force_login(lab_admin)
    response = client.post("/lab/models/adapt/", {"lab": lab.pk}, follow=True)
    text = " ".join(_messages(response))
    assert "2 more case(s) with reviewed white cells (have 2, need 4)" in text
    assert "more reviewed blast cell(s) (have 2, need 5)" in text
    assert not AdaptationJob.objects.exists()


def test_it_refuses_a_second_adaptation_while_one_is_queued(small_rules, lab, lab_admin, pathologist):
    review_cells(lab=lab, reviewer=pathologist)
    first = services.adaptation_start(user=lab_admin, lab_id=lab.pk)
    assert first.status == "queued" and first.n_cases == 6 and first.params["epochs"] == 2
    with pytest.raises(AdaptationBusy, match="already queued or running"):
        services.adaptation_start(user=lab_admin, lab_id=lab.pk)
    services.adaptation_cancel(user=lab_admin, job_id=first.pk)
    assert AdaptationJob.objects.get(pk=first.pk).status == "cancelled"
    assert services.adaptation_start(user=lab_admin, lab_id=lab.pk).pk != first.pk  # cancelled: no longer blocks


def test_it_refuses_a_non_admin_everywhere(small_rules, client, lab, pathologist, technician):
    review_cells(lab=lab, reviewer=pathologist)
    for user in (pathologist, technician):
        client.force_login(user)
        assert client.get("/lab/models/").status_code == 403
        assert client.post("/lab/models/adapt/", {"lab": lab.pk}).status_code == 403
        with pytest.raises(PermissionDenied):
            services.adaptation_start(user=user, lab_id=lab.pk)
    assert not AdaptationJob.objects.exists()


def test_it_refuses_to_activate_a_candidate_worse_than_its_base(lab, lab_admin):
    shipped = LabModel.objects.create(
        lab=lab, kind="shipped", status="active", name="hybrid_vgg", version="1", sha256="a" * 64
    )
    worse = LabModel.objects.create(
        lab=lab,
        kind="adapted",
        name="hybrid_vgg",
        version="1+north.1",
        sha256="b" * 64,
        base=shipped,
        evaluation={"gate": {"passed": False, "rules": []}},
    )
    with pytest.raises(RegistryError, match="worse than its base"):
        lab_model_activate(user=lab_admin, model=worse)
    shipped.refresh_from_db()
    assert shipped.status == "active"


def test_it_has_nothing_to_roll_back_to_at_first(client, lab, lab_admin):
    LabModel.objects.create(lab=lab, kind="shipped", status="active", name="hybrid_vgg", version="1", sha256="a" * 64)
    client.force_login(lab_admin)
    response = client.post("/lab/models/rollback/", {"lab": lab.pk}, follow=True)
    assert "no earlier model to roll back to" in " ".join(_messages(response))
