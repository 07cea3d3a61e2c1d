"""A real webhook receiver on 127.0.0.1 for the outbox tests: records every POST, checks its signature.

It answers with the status ``status`` says (200 by default; tests switch it to 500 to see
retries and dead letters, and back to see a replay delivered), and keeps each request's
headers, body and whether the signature verified with the subscription's secret.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from engine.integration.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


@dataclass(frozen=True)
class Received:
    """One POST the receiver got."""

    path: str
    event_id: str
    timestamp: str
    signature: str
    body: bytes
    verified: bool
    status: int  # what the receiver answered
    at: float
    user_agent: str

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """The state shared with the handler threads."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.status = 200
        self.delay = 0.0
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.url = ""

    def accepted(self) -> list[Received]:
        """The POSTs answered 2xx, in arrival order."""
        with self.lock:
            return [r for r in self.received if 200 <= r.status < 300]

    def all(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def wait_for(self, predicate: Callable[[Receiver], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return
            time.sleep(0.02)
        raise AssertionError(f"the receiver did not see what was expected within {timeout}s")


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if receiver.delay:
                time.sleep(receiver.delay)
            timestamp = self.headers.get(TIMESTAMP_HEADER, "")
            signature = self.headers.get(SIGNATURE_HEADER, "")
            status = receiver.status
            with receiver.lock:
                receiver.received.append(
                    Received(
                        path=self.path,
                        event_id=self.headers.get(EVENT_ID_HEADER, ""),
                        timestamp=timestamp,
                        signature=signature,
                        body=body,
                        verified=verify(receiver.secret, timestamp, body, signature),
                        status=status,
                        at=time.monotonic(),
                        user_agent=self.headers.get("User-Agent", ""),
                    )
                )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def receiving(secret: str, port: int = 0) -> Iterator[Receiver]:
    """A receiver listening on 127.0.0.1 (any free port unless given) for the block."""
    receiver = Receiver(secret)
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
