"""Case reads are isolated by lab and sorted for review."""

import pytest
from django.http import Http404

from alllab.accounts.scope import scope_for_user
from alllab.cases.models import Case
from alllab.cases.selectors import case_get, case_list, case_review_queue, slide_get
from tests.alllab.factories import CaseFactory, SlideFactory


def test_it_lists_only_cases_of_the_users_labs(technician, lab, other_lab):
    mine = CaseFactory(lab=lab)
    CaseFactory(lab=other_lab)
    assert list(case_list(scope=scope_for_user(technician))) == [mine]


def test_it_hides_another_labs_case_and_slide(technician, other_lab):
    theirs = SlideFactory(case__lab=other_lab)
    with pytest.raises(Http404):
        case_get(scope=scope_for_user(technician), case_id=theirs.case_id)
    with pytest.raises(Http404):
        slide_get(scope=scope_for_user(technician), slide_id=theirs.id)


def test_it_searches_and_filters(technician, lab):
    a = CaseFactory(lab=lab, accession_number="H-100", patient_pseudonym="X1", call="suspicious")
    b = CaseFactory(lab=lab, accession_number="H-200", patient_pseudonym="Y2", call="negative")
    assert list(case_list(scope=scope_for_user(technician), search="h-1")) == [a]
    assert list(case_list(scope=scope_for_user(technician), search="y2")) == [b]
    assert list(case_list(scope=scope_for_user(technician), call="suspicious")) == [a]


def test_it_puts_the_most_suspicious_case_first(pathologist, lab):
    waiting = Case.Status.AWAITING_REVIEW
    negative = CaseFactory(lab=lab, status=waiting, call="negative", max_p_blast=0.4)
    mild = CaseFactory(lab=lab, status=waiting, call="suspicious", max_p_blast=0.6)
    strong = CaseFactory(lab=lab, status=waiting, call="suspicious", max_p_blast=0.99)
    unclear = CaseFactory(lab=lab, status=waiting, call="insufficient", max_p_blast=0.1)
    CaseFactory(lab=lab, status=Case.Status.ANALYSING, call="suspicious", max_p_blast=1.0)
    assert list(case_review_queue(scope=scope_for_user(pathologist))) == [strong, mild, unclear, negative]
