"""MLLP delivery against a tiny receiver on 127.0.0.1: accepted, rejected, wrong ACK, no ACK, nobody listening."""

from __future__ import annotations

import socket

import pytest

from alllab.interop.hl7 import hl7_oru_er7
from alllab.interop.mllp import MllpError, ack_parse, mllp_send

from .factories import report
from .mllp_receiver import ack_for


def _message() -> str:
    return hl7_oru_er7(report=report(), control_id="MSG-1")


def test_it_delivers_a_message_and_reads_an_accepting_ack(receiver):
    rx = receiver(lambda m: ack_for(m))
    ack = mllp_send(_message(), host="127.0.0.1", port=rx.port, timeout=5)
    assert ack.accepted
    assert ack.code == "AA"
    assert ack.control_id == "MSG-1"
    assert rx.received == [_message()]


def test_it_reports_a_rejection_with_its_reason(receiver):
    rx = receiver(lambda m: ack_for(m, code="AE", text="unknown patient"))
    ack = mllp_send(_message(), host="127.0.0.1", port=rx.port, timeout=5)
    assert not ack.accepted
    assert (ack.code, ack.text) == ("AE", "unknown patient")


def test_it_refuses_an_ack_for_another_message(receiver):
    rx = receiver(lambda m: ack_for(m, control_id="SOMEONE-ELSE"))
    with pytest.raises(MllpError, match="SOMEONE-ELSE"):
        mllp_send(_message(), host="127.0.0.1", port=rx.port, timeout=5)


def test_it_fails_when_the_receiver_hangs_up_without_an_ack(receiver):
    rx = receiver(lambda m: None)
    with pytest.raises(MllpError, match="closed"):
        mllp_send(_message(), host="127.0.0.1", port=rx.port, timeout=5)


def test_it_fails_when_nobody_listens():
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]  # a port that was free a moment ago and is closed once we leave this block
    with pytest.raises(MllpError, match="could not deliver"):
        mllp_send(_message(), host="127.0.0.1", port=port, timeout=2)


def test_it_refuses_a_reply_without_msa():
    with pytest.raises(MllpError, match="MSA"):
        ack_parse("MSH|^~\\&|LIS\r")
    with pytest.raises(MllpError, match="acknowledgement code"):
        ack_parse("MSH|^~\\&|LIS\rMSA|OK|1\r")


def test_it_refuses_to_send_something_that_is_not_hl7():
    with pytest.raises(MllpError, match="MSH"):
        mllp_send("hello", host="127.0.0.1", port=1, timeout=1)
