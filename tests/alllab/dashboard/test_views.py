"""Home and the pathologists' review queue."""

from alllab.cases.models import Case
from tests.alllab.factories import CaseFactory


def test_it_sends_pathologists_to_the_queue_and_technicians_to_cases(client, pathologist, technician):
    client.force_login(pathologist)
    assert client.get("/")["Location"] == "/review/"
    client.force_login(technician)
    assert client.get("/")["Location"] == "/cases/"


def test_it_lists_waiting_cases_most_suspicious_first_and_only_the_labs(client, pathologist, lab, other_lab):
    waiting = Case.Status.AWAITING_REVIEW
    CaseFactory(lab=lab, accession_number="NEG-1", status=waiting, call="negative", max_p_blast=0.2)
    CaseFactory(lab=lab, accession_number="SUS-1", status=waiting, call="suspicious", max_p_blast=0.97)
    CaseFactory(lab=lab, accession_number="DONE-1", status=Case.Status.SIGNED_OFF, call="suspicious")
    CaseFactory(lab=other_lab, accession_number="THEIRS-1", status=waiting, call="suspicious", max_p_blast=1.0)
    client.force_login(pathologist)
    page = client.get("/review/").text
    assert page.index("SUS-1") < page.index("NEG-1")
    assert "DONE-1" not in page and "THEIRS-1" not in page


def test_it_answers_the_healthcheck(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.content == b"ok"


def test_it_links_each_queued_case_to_its_review_page(client, pathologist, lab):
    case = CaseFactory(lab=lab, accession_number="Q-1", status=Case.Status.AWAITING_REVIEW, call="suspicious")
    client.force_login(pathologist)
    page = client.get("/review/").text
    assert f'<a href="/review/cases/{case.id}/">Q-1</a>' in page
