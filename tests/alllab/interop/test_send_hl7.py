"""``manage.py send_hl7`` builds the case's ORU^R01 from the database and delivers it over MLLP."""

import pytest
from django.core.management import CommandError, call_command

from alllab.analysis.models import AnalysisRun
from tests.alllab.factories import AnalysisRunFactory, CaseFactory, SlideFactory

from .mllp_receiver import ack_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(lab, technician):
    case = CaseFactory(lab=lab, created_by=technician, accession_number="ACC-9", patient_pseudonym="PSN-9")
    AnalysisRunFactory(
        slide=SlideFactory(case=case, original_filename="s.png"),
        status=AnalysisRun.Status.DONE,
        model_name="hybrid-vgg",
        model_version="1.2.0",
        n_cells=20,
        n_blast=0,
        blast_fraction=0.0,
        blast_fraction_ci95_lo=0.0,
        blast_fraction_ci95_hi=0.1611,
        max_p_blast=0.12,
        call="negative",
    )
    return case


def test_it_sends_the_case_and_reports_the_ack(case, receiver, capsys):
    rx = receiver(lambda m: ack_for(m))
    call_command("send_hl7", str(case.pk), "--host", "127.0.0.1", "--port", str(rx.port), "--timeout", "5")
    (message,) = rx.received
    segments = {s.split("|")[0]: s.split("|") for s in message.split("\r") if s}
    assert segments["PID"][3] == "PSN-9^^^north^PI"
    assert segments["OBR"][2] == "ACC-9^north"
    assert "Delivered case ACC-9" in capsys.readouterr().out
    obx = [s.split("|") for s in message.split("\r") if s.startswith("OBX|")]
    assert [o[5] for o in obx][:2] == ["20", "0.00"]


def test_it_fails_loudly_when_rejected(case, receiver):
    rx = receiver(lambda m: ack_for(m, code="AR", text="no such order"))
    with pytest.raises(CommandError, match="AR no such order"):
        call_command("send_hl7", str(case.pk), "--host", "127.0.0.1", "--port", str(rx.port), "--timeout", "5")


def test_it_fails_loudly_when_there_is_no_case(db):
    with pytest.raises(CommandError, match="No case"):
        call_command("send_hl7", "999999", "--host", "127.0.0.1", "--port", "1")
