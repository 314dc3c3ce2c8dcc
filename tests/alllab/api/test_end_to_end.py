"""Over HTTP, as a LIS would: order a case, upload a generated smear, poll until a real worker is done, then read
the cells, a crop, the FHIR bundle and the HL7 message."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid

import pytest
from django.conf import settings
from fhir.resources.R4B.bundle import Bundle
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from alllab.api.services import lis_client_create
from alllab.api.tokens import token_hash
from alllab.interop.webhook import webhook_verify
from inference import DEFAULT_WEIGHTS
from inference.models import load_checkpoint
from inference.types import CALLS
from tests.alllab.interop.http_receiver import HttpReceiver
from tests.alllab.smear import smear_png

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not settings.CELERY_BROKER_URL.startswith("redis"), reason="needs REDIS_URL (a Redis broker)"),
]
POLL_TIMEOUT_S = 240


class Lis:
    """A minimal HTTP client holding one bearer token."""

    def __init__(self, base: str, token: str):
        self.base, self.token = base, token

    def call(
        self, method: str, path: str, *, body: bytes | None = None, content_type: str = ""
    ) -> tuple[int, dict, bytes]:
        request = urllib.request.Request(self.base + path, data=body, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def json(self, method: str, path: str, payload: dict | None = None) -> tuple[int, dict]:
        body = json.dumps(payload).encode() if payload is not None else None
        status, _, content = self.call(method, path, body=body, content_type="application/json" if body else "")
        return status, json.loads(content)

    def upload(self, path: str, filename: str, content: bytes) -> tuple[int, dict]:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{filename}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        status, _, out = self.call("POST", path, body=body, content_type=f"multipart/form-data; boundary={boundary}")
        return status, json.loads(out)


def wait_until_ready(worker, timeout: float = 60) -> None:
    """Wait for the worker's "ready" line: it starts with ``--purge``, which would erase a message sent earlier."""
    deadline = time.monotonic() + timeout
    while "ready." not in worker.log_path.read_text():
        if worker.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"worker not ready:\n{worker.log_path.read_text()[-3000:]}")
        time.sleep(0.2)


@pytest.fixture
def callback_receiver():
    rx = HttpReceiver([200])
    yield rx
    rx.close()


def test_it_runs_an_order_through_a_real_worker_over_http(live_worker, live_server, lab, callback_receiver):
    wait_until_ready(live_worker)
    _, token = lis_client_create(name="e2e-lis", lab=lab)
    lis = Lis(live_server.url, token)

    order = {"accession_number": "E2E-1", "patient_id": "PSN-E2E", "callback_url": callback_receiver.url}
    status, case = lis.json("POST", "/api/v1/cases/", order)
    assert status == 201, case
    status, again = lis.json("POST", "/api/v1/cases/", {"accession_number": "E2E-1", "patient_id": "PSN-E2E"})
    assert (status, again["id"]) == (200, case["id"])

    status, slide = lis.upload(f"/api/v1/cases/{case['id']}/slides/", "smear.png", smear_png(seed=5))
    assert status == 202, slide
    assert slide["status"] == "queued"

    deadline = time.monotonic() + POLL_TIMEOUT_S
    while slide["status"] not in ("done", "failed"):
        if time.monotonic() > deadline:
            pytest.fail(
                f"slide still {slide['status']} after {POLL_TIMEOUT_S} s:\n{live_worker.log_path.read_text()[-3000:]}"
            )
        time.sleep(1)
        status, slide = lis.json("GET", f"/api/v1/slides/{slide['id']}/")
        assert status == 200
    assert slide["status"] == "done", slide["error"]
    assert slide["model_name"] and slide["model_version"]
    assert slide["n_cells"] > 0
    assert slide["call"] in CALLS  # "unvalidated" included: a generated smear is unlike the model's training smears
    lo, hi = slide["blast_fraction_ci95"]
    # The interval's bounds are floats (Wilson at k == n gives 0.999...9), so compare with a rounding tolerance.
    tol = 1e-9
    assert -tol <= lo <= slide["blast_fraction"] + tol
    assert slide["blast_fraction"] <= hi + tol <= 1 + 2 * tol

    status, cells = lis.json("GET", f"/api/v1/slides/{slide['id']}/cells/")
    assert status == 200
    assert cells["count"] == slide["n_cells"]
    cut = load_checkpoint(DEFAULT_WEIGHTS).preprocessing.operating_point.cell_threshold  # the shipped model's
    assert sum(c["p_blast"] >= cut for c in cells["results"]) == slide["n_blast"]
    status, headers, crop = lis.call("GET", cells["results"][0]["crop_url"])
    assert (status, headers["Content-Type"], crop[:4]) == (200, "image/png", b"\x89PNG")

    status, detail = lis.json("GET", f"/api/v1/cases/{case['id']}/")
    assert detail["status"] == "awaiting_review"
    assert detail["summary"]["n_cells"] == slide["n_cells"]

    status, headers, fhir = lis.call("GET", f"/api/v1/cases/{case['id']}/fhir/")
    assert status == 200
    bundle = Bundle.model_validate_json(fhir)
    observations = [e.resource for e in bundle.entry if e.resource.__resource_type__ == "Observation"]
    counted = next(o for o in observations if o.code.coding[0].code == "11282-1")
    assert counted.valueQuantity.value == slide["n_cells"]

    status, headers, hl7 = lis.call("GET", f"/api/v1/cases/{case['id']}/hl7/")
    assert status == 200
    message = parse_message(hl7.decode(), validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    message.validate()
    obx = [s.split("|") for s in hl7.decode().split("\r") if s.startswith("OBX|")]
    assert obx[0][5] == str(slide["n_cells"])

    # The worker noticed the case was complete and called back, signed with sha256(token).
    deadline = time.monotonic() + 30
    while not callback_receiver.requests and time.monotonic() < deadline:
        time.sleep(0.5)
    assert callback_receiver.requests, live_worker.log_path.read_text()[-3000:]
    headers, body = callback_receiver.requests[0]
    ts, signature = int(headers["X-AllLab-Timestamp"]), headers["X-AllLab-Signature"]
    assert webhook_verify(body, key=token_hash(token), timestamp=ts, signature=signature)
    payload = json.loads(body)
    assert payload["event"] == "case.analysed"
    assert payload["case"]["slides"][0]["n_cells"] == slide["n_cells"]
