"""One Scope for every caller: a user's memberships, a LIS client's one lab, the worker's SYSTEM."""

import pytest
from django.core.exceptions import PermissionDenied

from alllab.accounts.scope import SYSTEM, scope_for_client, scope_for_user
from alllab.api.services import lis_client_create, lis_client_revoke
from alllab.cases.models import Case
from alllab.cases.selectors import case_list
from alllab.cases.services import case_create
from tests.alllab.factories import CaseFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def test_it_reads_every_membership_and_writes_where_the_role_may(technician, pathologist, lab, other_lab):
    MembershipFactory(user=technician, lab=other_lab, role="pathologist")
    scope = scope_for_user(technician)
    assert set(scope.lab_ids) == {lab.pk, other_lab.pk} and scope.write_lab_ids == (lab.pk,)
    assert scope.can_write(lab.pk) and not scope.can_write(other_lab.pk) and scope.client is None
    assert scope_for_user(pathologist).write_lab_ids == ()


def test_it_keeps_a_client_to_its_lab_whatever_its_service_user_joins(lab, other_lab):
    client, _ = lis_client_create(name="scope-lis", lab=lab)
    MembershipFactory(user=client.user, lab=other_lab, role="technician")
    scope = scope_for_client(client)
    assert (scope.lab_ids, scope.write_lab_ids, scope.client) == ((lab.pk,), (lab.pk,), client)
    theirs = CaseFactory(lab=other_lab)
    assert theirs not in case_list(scope=scope)
    with pytest.raises(PermissionDenied):
        case_create(scope=scope, lab=other_lab, accession_number="X", patient_pseudonym="P", created_by=client.user)
    lis_client_revoke(client=client)
    client.refresh_from_db()
    assert scope_for_client(client).lab_ids == ()


def test_it_narrows_a_queryset_to_the_readable_labs_and_system_to_none(technician, lab, other_lab):
    mine, theirs = CaseFactory(lab=lab), CaseFactory(lab=other_lab)
    assert list(scope_for_user(technician).narrow(Case.objects.all())) == [mine]
    assert set(SYSTEM.narrow(Case.objects.all())) == {mine, theirs} and SYSTEM.can_write(other_lab.pk)
