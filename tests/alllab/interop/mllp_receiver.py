"""A tiny MLLP receiver on 127.0.0.1 for the tests: records messages, answers with a chosen ACK."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

from alllab.interop.mllp import mllp_frame, mllp_read_block


class Receiver:
    """Accepts connections one at a time, records each message and answers with ``reply(message)``."""

    def __init__(self, reply: Callable[[str], bytes | None]):
        self.reply = reply
        self.received: list[str] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)  # poll, so close() stops the thread promptly
        self.stopped = threading.Event()
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                message = mllp_read_block(conn).decode()
                self.received.append(message)
                answer = self.reply(message)
                if answer is not None:
                    conn.sendall(answer)

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        self.sock.close()


def ack_for(message: str, code: str = "AA", control_id: str | None = None, text: str = "") -> bytes:
    msh = message.split("\r", 1)[0].split("|")
    cid = msh[9] if control_id is None else control_id
    ack = f"MSH|^~\\&|LIS|HOSP|{msh[2]}|{msh[3]}|20261129120000||ACK^R01^ACK|A{cid}|P|2.5.1\rMSA|{code}|{cid}|{text}\r"
    return mllp_frame(ack)
