"""Lab isolation: for every view and endpoint that takes an id, another lab's id answers 404, for every role.

The paths come from the URL walk, so a new view with an id is tested the day it is added. Each is asked with GET and
POST (a wrong method may answer 405, as it would for any id) by a technician, a pathologist and a lab admin of ``north`` (signed in), and by ``north``'s LIS token, about
objects of ``south``; none may answer anything but 404, and nothing of ``south`` may change.
"""

from __future__ import annotations

import pytest
from django.test import Client

from alllab.analysis.models import AnalysisRun, Cell
from alllab.cases.models import Case, Slide
from tests.alllab.factories import AnalysisRunFactory, CaseFactory, CellFactory, SlideFactory, UserFactory
from tests.reliability.urlwalk import all_paths

pytestmark = pytest.mark.django_db

ID_PARAMS = ("case_id", "slide_id", "cell_id")


@pytest.fixture
def south(other_lab):
    """A finished case of the other lab: its case, slide, run and cell ids."""
    owner = UserFactory()
    case = CaseFactory(lab=other_lab, created_by=owner, status=Case.Status.AWAITING_REVIEW, accession_number="SOUTH-1")
    slide = SlideFactory(case=case, original_filename="south-smear.png")
    run = AnalysisRunFactory(slide=slide, status=AnalysisRun.Status.DONE, n_cells=1, n_blast=1, call="suspicious")
    cell = CellFactory(run=run, p_blast=0.9)
    return {"case_id": str(case.id), "slide_id": str(slide.id), "cell_id": str(cell.id), "case": case}


def _id_paths(south) -> list[tuple[str, str]]:
    """Every non-admin path with a case, slide or cell id in it, filled with ``south``'s ids."""
    values = {k: south[k] for k in ID_PARAMS}
    marked = {name for path, name in all_paths({k: f"<{k}>" for k in ID_PARAMS}) if "<" in path}
    return [(path, name) for path, name in all_paths(values) if name in marked and not name.startswith("admin:")]


def _snapshot(case: Case) -> tuple:
    slide = Slide.objects.get(case=case)
    return (
        Case.objects.filter(pk=case.pk).values_list("status", "call", "n_cells").get(),
        Slide.objects.filter(case=case).count(),
        AnalysisRun.objects.filter(slide=slide).count(),
        list(Cell.objects.filter(run__slide=slide).values_list("ai_label", flat=True)),
    )


@pytest.fixture(params=["technician", "pathologist", "lab_admin", "lis_token"])
def north_client(request, api):
    if request.param == "lis_token":
        api.only_api = True  # a token opens the API, not the pages
        return api
    client = Client()
    client.force_login(request.getfixturevalue(request.param))
    return client


def test_it_answers_404_for_another_labs_ids_on_every_view_and_endpoint(north_client, south):
    paths = _id_paths(south)
    names = {name for _, name in paths}
    assert {
        "case_detail",
        "slide_image",
        "cell_crop",
        "review:case_sign_off",
        "api:case-detail",
        "api:cell-crop",
    } <= names
    if getattr(north_client, "only_api", False):
        paths = [(path, name) for path, name in paths if name.startswith("api:")]
    before = _snapshot(south["case"])
    wrong = []
    for path, name in paths:
        statuses = {method: getattr(north_client, method)(path).status_code for method in ("get", "post")}
        # 405 says only "not this method", whatever the id; the method the view takes must answer 404.
        if set(statuses.values()) - {404, 405} or 404 not in statuses.values():
            wrong.append(f"{path} ({name}): {statuses}")
    assert wrong == [], "\n".join(wrong)
    assert _snapshot(south["case"]) == before


def test_it_lists_no_other_labs_cases_anywhere(tech_client, api, south):
    assert "SOUTH-1" not in tech_client.get("/cases/").text
    assert "SOUTH-1" not in tech_client.get("/cases/?q=SOUTH").text
    assert "SOUTH-1" not in api.get("/api/v1/cases/").content.decode()
    assert "SOUTH-1" not in api.get("/api/v1/cases/?accession_number=SOUTH-1").content.decode()


def test_it_keeps_a_lab_admin_to_their_own_labs_users(client, lab_admin, other_lab):
    from alllab.accounts.models import Membership

    stranger = UserFactory(username="south-only-user")
    membership = Membership.objects.create(user=stranger, lab=other_lab, role="technician")
    client.force_login(lab_admin)
    assert "south-only-user" not in client.get("/admin/auth/user/").text
    for path in [f"/admin/auth/user/{stranger.id}/change/", f"/admin/accounts/membership/{membership.id}/change/"]:
        response = client.get(path)
        assert response.status_code in (302, 403, 404) and "south-only-user" not in response.text, path
    assert client.post(f"/admin/auth/user/{stranger.id}/delete/", {"post": "yes"}).status_code in (302, 403, 404)
    assert type(stranger).objects.filter(pk=stranger.pk).exists()
