"""Creating cases: roles enforced, accession numbers unique per lab (slides: tests/alllab/analysis/test_intake.py)."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from alllab.accounts.scope import scope_for_user
from alllab.cases.models import Case
from alllab.cases.services import case_create


def test_it_creates_a_case(technician, lab):
    case = case_create(
        scope=scope_for_user(technician),
        lab=lab,
        accession_number=" A-1 ",
        patient_pseudonym="P-1",
        created_by=technician,
    )
    assert (case.accession_number, case.status, case.created_by) == ("A-1", Case.Status.NEW, technician)


def test_it_refuses_a_duplicate_accession_in_the_same_lab_only(technician, lab, other_lab):
    case_create(
        scope=scope_for_user(technician),
        lab=lab,
        accession_number="A-1",
        patient_pseudonym="P-1",
        created_by=technician,
    )
    with pytest.raises(ValidationError):
        case_create(
            scope=scope_for_user(technician),
            lab=lab,
            accession_number="A-1",
            patient_pseudonym="P-2",
            created_by=technician,
        )
    from tests.alllab.factories import MembershipFactory

    MembershipFactory(user=technician, lab=other_lab, role="technician")
    assert case_create(
        scope=scope_for_user(technician),
        lab=other_lab,
        accession_number="A-1",
        patient_pseudonym="P-3",
        created_by=technician,
    )


def test_it_refuses_cases_from_pathologists_and_strangers(pathologist, lab, other_lab, technician):
    with pytest.raises(PermissionDenied):
        case_create(
            scope=scope_for_user(pathologist),
            lab=lab,
            accession_number="A-1",
            patient_pseudonym="P",
            created_by=pathologist,
        )
    with pytest.raises(PermissionDenied):
        case_create(
            scope=scope_for_user(technician),
            lab=other_lab,
            accession_number="A-1",
            patient_pseudonym="P",
            created_by=technician,
        )
