"""Send an HL7 v2 message over MLLP and read the receiver's ACK.

MLLP frames a message as ``0x0B message 0x1C 0x0D``. The receiver answers with an ACK whose MSA-1 says whether it
took the message (AA/CA) or not (AE/AR/CE/CR) and whose MSA-2 echoes our MSH-10; an ACK for another message is
treated as an error, so a result is never marked sent on someone else's acknowledgement.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

START = b"\x0b"
END = b"\x1c\x0d"
ACCEPTED = frozenset({"AA", "CA"})
MAX_ACK_BYTES = 1 << 20  # an ACK is a few hundred bytes; stop reading a runaway peer


class MllpError(Exception):
    """The message could not be delivered or the reply was not a usable ACK."""


@dataclass(frozen=True)
class Ack:
    """A receiver's acknowledgement (MSA segment) of one message."""

    code: str  # MSA-1
    control_id: str  # MSA-2, the MSH-10 it acknowledges
    text: str  # MSA-3 or ERR text, empty when none
    raw: str

    @property
    def accepted(self) -> bool:
        return self.code in ACCEPTED


def mllp_frame(message: str, *, encoding: str = "utf-8") -> bytes:
    """Wrap one ER7 message (segments separated by ``\\r``) in an MLLP block."""
    return START + message.encode(encoding) + END


def mllp_read_block(sock: socket.socket, *, max_bytes: int = MAX_ACK_BYTES) -> bytes:
    """Read one MLLP block from a socket and return its payload without the framing bytes.

    Raises:
        MllpError: If the peer closes before a whole block, sends more than ``max_bytes``, or frames it badly.
    """
    buf = bytearray()
    while END not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise MllpError("connection closed before a complete MLLP block was received")
        buf.extend(chunk)
        if len(buf) > max_bytes:
            raise MllpError(f"MLLP block larger than {max_bytes} bytes")
    start = buf.find(START)
    if start < 0:
        raise MllpError("MLLP block has no start byte (0x0B)")
    return bytes(buf[start + 1 : buf.index(END)])


def _field(segment: str, index: int) -> str:
    parts = segment.split("|")
    return parts[index] if len(parts) > index else ""


def ack_parse(payload: str) -> Ack:
    """Read MSA (and ERR, if any) out of an ACK's ER7 text.

    Raises:
        MllpError: If there is no MSA segment or MSA-1 is not an acknowledgement code.
    """
    segments = [s for s in payload.replace("\n", "\r").split("\r") if s]
    msa = next((s for s in segments if s.startswith("MSA|")), None)
    if msa is None:
        raise MllpError(f"reply has no MSA segment: {payload[:200]!r}")
    code = _field(msa, 1)
    if code not in {"AA", "AE", "AR", "CA", "CE", "CR"}:
        raise MllpError(f"reply has an unknown acknowledgement code {code!r}")
    err = next((s for s in segments if s.startswith("ERR|")), "")
    text = _field(msa, 3) or (_field(err, 8) if err else "")
    return Ack(code=code, control_id=_field(msa, 2), text=text, raw=payload)


def _control_id(message: str) -> str:
    msh = message.split("\r", 1)[0]
    if not msh.startswith("MSH"):
        raise MllpError("message does not start with an MSH segment")
    return _field(msh, 9)  # MSH-10: MSH-1 is the separator itself, so the split index is one less


def mllp_send(message: str, *, host: str, port: int, timeout: float = 10.0, encoding: str = "utf-8") -> Ack:
    """Send one message and wait for its ACK.

    Args:
        message: ER7 text with ``\\r`` segment separators.
        host: Receiver host.
        port: Receiver port.
        timeout: Seconds for connecting and for waiting on the ACK.
        encoding: Character encoding on the wire (MSH-18 should agree).

    Returns:
        The parsed ACK; check ``ack.accepted``.

    Raises:
        MllpError: On connection failure, timeout, a malformed reply, or an ACK for a different control id.
    """
    control_id = _control_id(message)
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(mllp_frame(message, encoding=encoding))
            payload = mllp_read_block(sock).decode(encoding, errors="replace")
    except OSError as exc:  # refused, unreachable, timed out
        raise MllpError(f"could not deliver to {host}:{port}: {exc}") from exc
    ack = ack_parse(payload)
    if ack.control_id != control_id:
        raise MllpError(f"ACK is for control id {ack.control_id!r}, not ours ({control_id!r})")
    return ack
