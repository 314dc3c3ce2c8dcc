"""Interop test fixtures."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from .http_receiver import HttpReceiver
from .mllp_receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(reply: Callable[[str], bytes | None]) -> Receiver:
        made.append(Receiver(reply))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def http_receiver() -> Iterator[Callable[..., HttpReceiver]]:
    made: list[HttpReceiver] = []

    def make(statuses: list[int] | None = None) -> HttpReceiver:
        made.append(HttpReceiver(statuses or []))
        return made[-1]

    yield make
    for r in made:
        r.close()
