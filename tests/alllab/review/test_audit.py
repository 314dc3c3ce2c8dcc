"""The audit trail: sign-ins, uploads, deletions (credited through the middleware), and its per-case reads."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import RequestFactory

from alllab.accounts.scope import scope_for_user
from alllab.analysis.intake import slide_create
from alllab.cases.models import Case, Slide
from alllab.review.audit import AuditRequestMiddleware
from alllab.review.models import AuditEvent, ImmutableError
from alllab.review.selectors import audit_for_case
from alllab.review.services import audit_record, case_sign_off, cell_reclassify
from tests.alllab.factories import PASSWORD, CaseFactory, SlideFactory
from tests.alllab.review.conftest import review_rest
from tests.alllab.smear import smear_png

pytestmark = pytest.mark.django_db


def test_it_records_sign_ins_and_failed_sign_ins(client, technician):
    client.post("/accounts/login/", {"username": technician.username, "password": "wrong"})
    client.post("/accounts/login/", {"username": technician.username, "password": PASSWORD})
    failed = AuditEvent.objects.get(action="login_failed")
    assert failed.actor is None and failed.detail == {"username": technician.username}
    login = AuditEvent.objects.get(action="login")
    assert login.actor == technician and login.actor_name == technician.username and login.at is not None


def test_it_records_an_upload_with_who_and_the_file(technician, lab, monkeypatch):
    from alllab.analysis import tasks

    monkeypatch.setattr(tasks.analyze_slide, "delay_on_commit", lambda run_id: None)
    case = CaseFactory(lab=lab, created_by=technician)
    upload = SimpleUploadedFile("smear 1.png", smear_png(seed=1, size=(64, 48)), content_type="image/png")
    slide = slide_create(scope=scope_for_user(technician), case=case, uploaded_file=upload, uploaded_by=technician)
    event = AuditEvent.objects.get(action="upload")
    assert (event.actor, event.case_id, event.lab_id) == (technician, case.id, lab.id)
    assert (event.object_type, event.object_id) == ("slide", str(slide.id))
    assert event.detail["filename"] == "smear 1.png" and event.detail["sha256"] == slide.sha256


def test_it_credits_a_deletion_to_the_user_of_the_request(lab, lab_admin):
    slide = SlideFactory(case__lab=lab)
    case = slide.case

    def delete_case(request):
        Case.objects.get(pk=case.pk).delete()
        return HttpResponse("deleted")

    request = RequestFactory().post("/admin/")
    request.user = lab_admin
    AuditRequestMiddleware(delete_case)(request)
    events = {e.object_type: e for e in AuditEvent.objects.filter(action="delete")}
    assert set(events) == {"case", "slide"}
    assert all(e.actor == lab_admin and e.case_id == case.id and e.lab_id == lab.id for e in events.values())
    assert events["case"].detail == {"accession_number": case.accession_number}
    assert not Slide.objects.exists()
    # The trail outlives the case: the events still name it by id.
    assert AuditEvent.objects.filter(case_id=case.id, action="upload").exists()


def test_a_deletion_outside_a_request_is_recorded_without_an_actor(lab):
    slide = SlideFactory(case__lab=lab)
    slide_id = slide.id
    slide.delete()
    event = AuditEvent.objects.get(action="delete")
    assert event.actor is None and event.object_id == str(slide_id) and event.lab_id == lab.id


def test_the_case_trail_holds_each_review_action_for_pathologists_and_lab_admins(
    review_case, pathologist, lab_admin, technician
):
    case, cells, _ = review_case
    cell_reclassify(
        scope=scope_for_user(pathologist),
        user=pathologist,
        case=case,
        cell_ids=[cells[0].id, cells[1].id],
        label="lymphocyte",
    )
    review_rest(case, pathologist)
    case_sign_off(scope=scope_for_user(pathologist), user=pathologist, case=case, interpretation="no_blasts")
    audit_record(action="login", actor=pathologist)  # not a case event: not in the case's trail
    actions = list(
        audit_for_case(scope=scope_for_user(lab_admin), user=lab_admin, case=case).values_list("action", "actor_name")
    )
    assert actions[0] == ("sign_off", pathologist.username)
    assert actions.count(("reclassify", pathologist.username)) == 6  # every cell: signing needs all reviewed
    assert sorted(a for a, _ in actions) == ["reclassify"] * 6 + ["sign_off", "upload", "upload"]
    assert list(audit_for_case(scope=scope_for_user(pathologist), user=pathologist, case=case)) == list(
        audit_for_case(scope=scope_for_user(lab_admin), user=lab_admin, case=case)
    )
    assert not audit_for_case(scope=scope_for_user(technician), user=technician, case=case).exists()


def test_an_event_cannot_be_changed_or_deleted(technician):
    event = audit_record(action="login", actor=technician)
    event.actor_name = "someone else"
    with pytest.raises(ImmutableError):
        event.save()
    with pytest.raises(ImmutableError):
        event.delete()
    assert AuditEvent.objects.get(pk=event.pk).actor_name == technician.username


def test_it_refuses_an_unknown_action():
    with pytest.raises(ValueError, match="unknown audit action"):
        audit_record(action="teleport", actor=None)


def test_lab_admins_see_their_labs_trail_with_their_members_sign_ins(
    client, review_case, lab_admin, pathologist, other_lab
):
    from tests.alllab.factories import MembershipFactory, UserFactory

    case, cells, _ = review_case
    outsider = UserFactory()
    MembershipFactory(user=outsider, lab=other_lab, role="pathologist")
    audit_record(action="login", actor=outsider)
    SlideFactory(case__lab=other_lab, original_filename="theirs.png")
    client.force_login(pathologist)
    cell_reclassify(
        scope=scope_for_user(pathologist), user=pathologist, case=case, cell_ids=[cells[0].id], label="blast"
    )
    assert client.get("/review/audit/").status_code == 403  # lab admins only
    client.force_login(lab_admin)
    page = client.get("/review/audit/")
    assert page.status_code == 200
    actions = {(e.action, e.actor_name) for e in page.context["events"]}
    assert {
        ("login", pathologist.username),
        ("login", lab_admin.username),
        ("reclassify", pathologist.username),
    } <= actions
    assert ("login", outsider.username) not in actions
    assert "theirs.png" not in page.text and "slide-a.png" in page.text
    assert f'href="/review/cases/{case.id}/audit/">ACC-R1</a>' in page.text
