"""Interop test fixtures."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

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
