"""A small client of the stack under test: the LIS API with a bearer token, ``/readyz``, nothing but the stdlib."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str

    def json(self):
        return json.loads(self.body)


class StackClient:
    """Talks to one web server at ``base_url`` (loopback) as one LIS client."""

    def __init__(self, base_url: str, token: str = "") -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token

    def request(self, method: str, path: str, *, body: bytes | None = None, content_type: str = "") -> Response:
        headers = {"Accept": "*/*"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if content_type:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.base_url + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return Response(resp.status, resp.read(), resp.headers.get("Content-Type", ""))
        except urllib.error.HTTPError as exc:
            return Response(exc.code, exc.read(), exc.headers.get("Content-Type", ""))

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def get_json(self, path: str):
        resp = self.get(path)
        if resp.status != 200:
            raise AssertionError(f"GET {path}: {resp.status} {resp.body[:300]!r}")
        return resp.json()

    def case_create(self, accession_number: str) -> dict:
        body = json.dumps({"accession_number": accession_number, "patient_id": f"PSEUDO-{accession_number}"})
        resp = self.request("POST", "/api/v1/cases/", body=body.encode(), content_type="application/json")
        if resp.status not in (200, 201):
            raise AssertionError(f"case create: {resp.status} {resp.body[:300]!r}")
        return resp.json()

    def slide_upload(self, case_id: int, *, filename: str, data: bytes) -> dict:
        """POST one image as multipart ``image``; the slide as answered (202: stored, analysis queued)."""
        boundary = uuid.uuid4().hex
        mime = "image/png" if filename.endswith(".png") else "image/jpeg"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="{filename}"\r\n'
                f"Content-Type: {mime}\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        resp = self.request(
            "POST",
            f"/api/v1/cases/{case_id}/slides/",
            body=body,
            content_type=f"multipart/form-data; boundary={boundary}",
        )
        if resp.status != 202:
            raise AssertionError(f"upload {filename}: {resp.status} {resp.body[:300]!r}")
        return resp.json()

    def slide(self, slide_id: int) -> dict:
        return self.get_json(f"/api/v1/slides/{slide_id}/")

    def slides_wait(self, slide_ids: list[int], *, timeout_s: float, poll_s: float = 0.5) -> dict[int, dict]:
        """Poll until every slide's run is done or failed; {slide id: slide} with ``finished_seen`` (monotonic)."""
        deadline = time.monotonic() + timeout_s
        finished: dict[int, dict] = {}
        while len(finished) < len(slide_ids):
            for slide_id in slide_ids:
                if slide_id in finished:
                    continue
                try:
                    slide = self.slide(slide_id)
                except (AssertionError, OSError):
                    continue  # the web may be restarting its connections: ask again
                if slide["status"] in ("done", "failed"):
                    slide["finished_seen"] = time.monotonic()
                    finished[slide_id] = slide
            if time.monotonic() > deadline:
                missing = sorted(set(slide_ids) - set(finished))
                raise AssertionError(f"slides {missing} not finished within {timeout_s:.0f} s")
            time.sleep(poll_s)
        return finished


def readyz(base_url: str) -> tuple[int, dict]:
    """(status, body) of ``/readyz``; (0, {}) when nothing answers."""
    try:
        resp = StackClient(base_url).get("/readyz")
    except OSError:
        return 0, {}
    try:
        return resp.status, resp.json()
    except ValueError:
        return resp.status, {}


def readyz_wait(base_url: str, *, want: int, timeout_s: float, poll_s: float = 0.5) -> tuple[float, dict]:
    """Seconds until ``/readyz`` answers ``want``, and that body."""
    started = time.monotonic()
    while True:
        status, body = readyz(base_url)
        if status == want:
            return time.monotonic() - started, body
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"/readyz did not answer {want} within {timeout_s:.0f} s (last: {status} {body})")
        time.sleep(poll_s)
