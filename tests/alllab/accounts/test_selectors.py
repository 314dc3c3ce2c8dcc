"""Roles and lab membership: the one place permission rules live."""

from django.contrib.auth.models import AnonymousUser

from alllab.accounts.scope import scope_for_user
from alllab.accounts.selectors import lab_ids_for_user, user_can_review, user_is_lab_admin
from tests.alllab.factories import MembershipFactory


def test_it_lists_only_the_users_labs(technician, lab, other_lab):
    assert lab_ids_for_user(user=technician) == [lab.id]


def test_it_gives_anonymous_and_inactive_users_no_lab(technician):
    assert lab_ids_for_user(user=AnonymousUser()) == []
    technician.is_active = False
    technician.save()
    assert lab_ids_for_user(user=technician) == []


def test_it_maps_roles_to_actions(technician, pathologist, lab_admin, lab):
    assert scope_for_user(technician).can_write(lab.pk)
    assert not user_can_review(user=technician, lab=lab)
    assert user_can_review(user=pathologist, lab=lab)
    assert not scope_for_user(pathologist).can_write(lab.pk)
    assert user_is_lab_admin(user=lab_admin)
    assert not user_is_lab_admin(user=technician)


def test_it_keeps_roles_per_lab(technician, other_lab):
    MembershipFactory(user=technician, lab=other_lab, role="pathologist")
    assert user_can_review(user=technician, lab=other_lab)
    assert not scope_for_user(technician).can_write(other_lab.pk)
