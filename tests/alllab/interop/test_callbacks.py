"""Case callbacks: claimed once when every slide is finished, delivered signed, retried, superseded by re-analysis."""

import json

import pytest

from alllab.analysis.models import AnalysisRun
from alllab.api.models import CaseOrder
from alllab.api.services import lis_client_create
from alllab.interop import signals
from alllab.interop.callbacks import case_callback_claim
from alllab.interop.tasks import deliver_case_callback
from alllab.interop.webhook import webhook_verify
from tests.alllab.factories import AnalysisRunFactory, CaseFactory, SlideFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(lab, technician):
    client, token = lis_client_create(name="cb-lis", lab=lab)
    case = CaseFactory(lab=lab, created_by=technician)
    order = CaseOrder.objects.create(case=case, client=client, callback_url="http://127.0.0.1:9/hook")
    order.token = token
    return order


def _run(case, status="done"):
    return AnalysisRunFactory(slide=SlideFactory(case=case), status=status, n_cells=3, n_blast=0,
                              blast_fraction=0.0, blast_fraction_ci95_lo=0.0, blast_fraction_ci95_hi=0.56,
                              max_p_blast=0.2, call="negative")  # fmt: skip


def test_it_waits_until_every_slide_is_finished(order):
    done = _run(order.case)
    busy = _run(order.case, status="running")
    assert case_callback_claim(case=order.case) is None
    AnalysisRun.objects.filter(pk=busy.pk).update(status="failed", error="x")
    claimed = case_callback_claim(case=order.case)
    assert claimed is not None
    assert claimed.callback_runs == f"{done.pk},{busy.pk}"
    assert claimed.callback_status == "pending"


def test_it_claims_one_set_of_runs_only_once(order):
    _run(order.case)
    assert case_callback_claim(case=order.case) is not None
    assert case_callback_claim(case=order.case) is None  # a redelivered task or a second worker: nothing to send


def test_it_claims_again_after_a_reanalysis(order):
    run = _run(order.case)
    first = case_callback_claim(case=order.case).callback_runs
    AnalysisRunFactory(slide=run.slide, status="done", n_cells=1, n_blast=0, blast_fraction=0.0,
                       blast_fraction_ci95_lo=0.0, blast_fraction_ci95_hi=0.79, max_p_blast=0.1, call="negative")  # fmt: skip
    second = case_callback_claim(case=order.case)
    assert second is not None and second.callback_runs != first


def test_it_sends_nothing_without_a_callback_url(order):
    CaseOrder.objects.filter(pk=order.pk).update(callback_url="")
    _run(order.case)
    assert case_callback_claim(case=order.case) is None


def test_it_delivers_a_signed_callback_after_retrying_a_server_error(order, http_receiver):
    rx = http_receiver([503, 200])
    CaseOrder.objects.filter(pk=order.pk).update(callback_url=rx.url)
    _run(order.case)
    claimed = case_callback_claim(case=order.case)
    deliver_case_callback.apply(args=[claimed.pk, claimed.callback_runs])
    assert len(rx.requests) == 2
    headers, body = rx.requests[-1]
    key = order.client.token_hash  # the LIS computes sha256(token) itself; ALL-Lab stores only that
    assert webhook_verify(
        body, key=key, timestamp=int(headers["X-AllLab-Timestamp"]), signature=headers["X-AllLab-Signature"]
    )
    payload = json.loads(body)
    assert payload["event"] == "case.analysed"
    assert payload["case"]["id"] == order.case.pk
    assert payload["case"]["slides"][0]["status"] == "done"
    order.refresh_from_db()
    assert (order.callback_status, order.callback_attempts) == ("delivered", 2)
    assert order.callback_delivered_at is not None


def test_it_gives_up_on_a_client_error_without_retrying(order, http_receiver):
    rx = http_receiver([400])
    CaseOrder.objects.filter(pk=order.pk).update(callback_url=rx.url)
    _run(order.case)
    claimed = case_callback_claim(case=order.case)
    deliver_case_callback.apply(args=[claimed.pk, claimed.callback_runs])
    order.refresh_from_db()
    assert len(rx.requests) == 1
    assert (order.callback_status, order.callback_attempts) == ("failed", 1)
    assert "400" in order.callback_error


def test_it_skips_a_delivery_superseded_by_a_newer_claim(order, http_receiver):
    rx = http_receiver([200])
    CaseOrder.objects.filter(pk=order.pk).update(callback_url=rx.url, callback_runs="999")
    deliver_case_callback.apply(args=[order.pk, "1"])
    assert rx.requests == []


def test_it_enqueues_from_the_analysis_tasks_postrun_signal(order, monkeypatch):
    sent = []
    monkeypatch.setattr(deliver_case_callback, "delay", lambda *a: sent.append(a))
    run = _run(order.case)

    class FakeTask:
        name = signals.ANALYZE_TASK

    signals.on_task_postrun(sender=FakeTask(), task=FakeTask(), args=(run.pk,))
    signals.on_task_postrun(sender=FakeTask(), task=FakeTask(), args=(run.pk,))  # redelivered: no second send
    assert sent == [(order.pk, str(run.pk))]


def test_it_refuses_a_callback_from_a_session_user(client, technician):
    client.force_login(technician)
    response = client.post(
        "/api/v1/cases/",
        {"accession_number": "CB-1", "patient_id": "P", "callback_url": "https://lis.example/hook"},
        content_type="application/json",
    )
    assert (response.status_code, response.json()["error"]["field"]) == (400, "callback_url")
