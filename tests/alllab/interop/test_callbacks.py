"""Case callbacks: claimed once when every slide is finished, delivered signed, retried, superseded by re-analysis."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from alllab.accounts.scope import scope_for_user
from alllab.analysis import sweeper
from alllab.analysis.models import AnalysisRun
from alllab.analysis.services import MAX_ATTEMPTS, case_summary_refresh
from alllab.api.services import lis_client_create
from alllab.cases.models import Case
from alllab.interop import signals
from alllab.interop.callbacks import case_callback_claim, report_callback_claim
from alllab.interop.models import CaseOrder
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


def _run(case, status="done", slide=None):
    """A run made by a factory, then the case refreshed from its runs (what finishing or queueing a run does)."""
    run = AnalysisRunFactory(slide=slide or SlideFactory(case=case), status=status, n_cells=3, n_blast=0,
                             blast_fraction=0.0, blast_fraction_ci95_lo=0.0, blast_fraction_ci95_hi=0.56,
                             max_p_blast=0.2, call="negative")  # fmt: skip
    case_summary_refresh(case=case)
    return run


def test_it_waits_until_every_slide_is_finished(order):
    done = _run(order.case)
    busy = _run(order.case, status="running")
    assert case_callback_claim(case_id=order.case_id) is None
    AnalysisRun.objects.filter(pk=busy.pk).update(status="failed", error="x")
    case_summary_refresh(case=order.case)
    claimed = case_callback_claim(case_id=order.case_id)
    assert claimed is not None
    assert claimed.callback_runs == f"{done.pk},{busy.pk}"
    assert claimed.callback_status == "pending"


def test_it_claims_one_set_of_runs_only_once(order):
    _run(order.case)
    assert case_callback_claim(case_id=order.case_id) is not None
    assert case_callback_claim(case_id=order.case_id) is None  # a redelivered task or a second worker: nothing to send


def test_it_claims_again_after_a_reanalysis(order):
    run = _run(order.case)
    first = case_callback_claim(case_id=order.case_id).callback_runs
    _run(order.case, slide=run.slide)
    second = case_callback_claim(case_id=order.case_id)
    assert second is not None and second.callback_runs != first


def test_it_sends_nothing_without_a_callback_url(order):
    CaseOrder.objects.filter(pk=order.pk).update(callback_url="")
    _run(order.case)
    assert case_callback_claim(case_id=order.case_id) is None


def test_it_delivers_a_signed_callback_after_retrying_a_server_error(order, http_receiver):
    rx = http_receiver([503, 200])
    CaseOrder.objects.filter(pk=order.pk).update(callback_url=rx.url)
    _run(order.case)
    claimed = case_callback_claim(case_id=order.case_id)
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
    claimed = case_callback_claim(case_id=order.case_id)
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


def test_it_enqueues_once_when_the_last_run_finishes(order, monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(deliver_case_callback, "delay", lambda *a: sent.append(a))
    with django_capture_on_commit_callbacks(execute=True):
        run = _run(order.case)
    with django_capture_on_commit_callbacks(execute=True):
        case_summary_refresh(case=order.case)  # refreshed again (a redelivered task): no second event, no send
    assert signals.case_callback_enqueue(case_id=order.case_id) is False  # and a second claim finds nothing
    assert sent == [(order.pk, str(run.pk))]


def test_it_sends_the_callback_when_the_sweeper_fails_the_last_run(
    order, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(deliver_case_callback, "delay", lambda *a: sent.append(a))
    monkeypatch.setattr(sweeper, "broker_queue_size", lambda: None)
    done = _run(order.case)
    long_ago = timezone.now() - timedelta(hours=2)
    stuck = _run(order.case, status="running")
    AnalysisRun.objects.filter(pk=stuck.pk).update(started_at=long_ago, attempts=MAX_ATTEMPTS)
    assert sent == []  # one slide still running: nothing yet
    with django_capture_on_commit_callbacks(execute=True):
        assert sweeper.runs_sweep().failed == [stuck.pk]
    assert AnalysisRun.objects.get(pk=stuck.pk).status == "failed"
    assert Case.objects.get(pk=order.case_id).status == Case.Status.AWAITING_REVIEW
    assert sent == [(order.pk, f"{done.pk},{stuck.pk}")]


def test_it_refuses_a_callback_from_a_session_user(client, technician):
    client.force_login(technician)
    response = client.post(
        "/api/v1/cases/",
        {"accession_number": "CB-1", "patient_id": "P", "callback_url": "https://lis.example/hook"},
        content_type="application/json",
    )
    assert (response.status_code, response.json()["error"]["field"]) == (400, "callback_url")


def _signed(order, pathologist, django_capture_on_commit_callbacks):
    """Every cell of a finished run reviewed, then signed (the callback, if any, enqueued on commit)."""
    from alllab.review.services import case_sign_off, cell_reclassify
    from tests.alllab.factories import CellFactory

    run = _run(order.case)
    cells = [CellFactory(run=run, index=i, p_blast=p) for i, p in enumerate((0.9, 0.2, 0.1))]
    for cell, label in zip(cells, ("blast", "lymphocyte", "lymphocyte"), strict=True):
        cell_reclassify(
            scope=scope_for_user(pathologist), user=pathologist, case=order.case, cell_ids=[cell.id], label=label
        )
    with django_capture_on_commit_callbacks(execute=True):
        case_sign_off(
            scope=scope_for_user(pathologist), user=pathologist, case=order.case, interpretation="blasts_present"
        )
    return cells


def test_it_sends_the_signed_result_once_per_report_version(
    order, pathologist, http_receiver, monkeypatch, django_capture_on_commit_callbacks
):
    from alllab.review.services import case_amend, cell_reclassify

    sent = []
    monkeypatch.setattr(deliver_case_callback, "delay", lambda *a: sent.append(a))
    cells = _signed(order, pathologist, django_capture_on_commit_callbacks)
    assert sent == [(order.pk, "report-v1")]
    assert report_callback_claim(case_id=order.case_id, version=1) is None  # claimed once

    rx = http_receiver([200])
    CaseOrder.objects.filter(pk=order.pk).update(callback_url=rx.url)
    deliver_case_callback.apply(args=[order.pk, "report-v1"])
    payload = json.loads(rx.requests[-1][1])
    assert payload["event"] == "case.signed" and payload["delivery"] == f"{order.pk}:report-v1"
    result = payload["case"]["result"]
    assert (result["status"], result["n_blast"], result["n_white_cells"]) == ("final", 1, 3)

    cell_reclassify(
        scope=scope_for_user(pathologist), user=pathologist, case=order.case, cell_ids=[cells[1].id], label="blast"
    )
    with django_capture_on_commit_callbacks(execute=True):
        case_amend(
            scope=scope_for_user(pathologist),
            user=pathologist,
            case=order.case,
            interpretation="blasts_present",
            reason="Second blast.",
        )
    assert sent[-1] == (order.pk, "report-v2")
    deliver_case_callback.apply(args=[order.pk, "report-v1"])  # the old version, still retrying: superseded
    assert len(rx.requests) == 1
    deliver_case_callback.apply(args=[order.pk, "report-v2"])
    payload = json.loads(rx.requests[-1][1])
    assert payload["event"] == "case.amended"
    assert (payload["case"]["result"]["status"], payload["case"]["result"]["n_blast"]) == ("amended", 2)
