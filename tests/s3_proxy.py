"""A TCP proxy in front of the S3 server that makes storage fail on demand, as S3 itself fails.

* ``drop``: the first ``drop`` connections of clients other than Airflow's own (its user agent says
  ``Airflow/``; the OCR step's boto3 does not) are closed before a byte is answered: S3 unreachable.
* ``blocked``: every new connection is closed unanswered: S3 is down for everyone.
* ``inject(status, code, ...)``: requests that match are answered with S3's own XML error (``503 SlowDown``,
  ``403 AccessDenied``, ``403 InvalidAccessKeyId``…) and ``Connection: close``, so that the client's retry
  comes on a new connection and is judged again. Only the OCR step's requests (not Airflow's) by default,
  optionally only those whose request line contains ``path``; ``times`` of them, or until ``clear()``.

Each connection is judged by its first request; a connection that was let through is piped as it is.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass

_REASONS = {403: "Forbidden", 500: "Internal Server Error", 503: "Slow Down", 400: "Bad Request"}


@dataclass
class Fault:
    status: int
    code: str
    path: str | None = None  # a substring of the request line (a key); None: every request
    times: int | None = None  # answered this many times; None: until cleared
    airflow_too: bool = False
    answered: int = 0

    def matches(self, first: bytes) -> bool:
        if not self.airflow_too and b"Airflow/" in first:
            return False
        if self.times is not None and self.answered >= self.times:
            return False
        request_line = first.split(b"\r\n", 1)[0].decode("latin-1")
        return self.path is None or self.path in request_line

    def response(self) -> bytes:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{self.code}</Code><Message>injected by the test proxy</Message>"
            "<RequestId>TESTPROXY</RequestId></Error>"
        ).encode()
        head = (
            f"HTTP/1.1 {self.status} {_REASONS.get(self.status, 'Error')}\r\n"
            "Content-Type: application/xml\r\n"
            f"Content-Length: {len(body)}\r\n"
            "x-amz-request-id: TESTPROXY\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        return head + body


class FlakyProxy:
    def __init__(self, upstream: tuple[str, int], drop: int = 0):
        self.upstream = upstream
        self.drop = drop
        self.blocked = False
        self.dropped = 0
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def inject(self, status: int, code: str, **options) -> Fault:
        fault = Fault(status, code, **options)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        with client:
            first = client.recv(65536)
            from_airflow = b"Airflow/" in first
            with self._lock:
                if self.blocked or (not from_airflow and self.dropped < self.drop):
                    self.dropped += 1
                    return  # closed unanswered
                fault = next((f for f in self.faults if f.matches(first)), None)
                if fault is not None:
                    fault.answered += 1
            if fault is not None:
                _answer(client, first, fault.response())
                return
            with socket.create_connection(self.upstream) as server:
                server.sendall(first)
                threading.Thread(target=_pipe, args=(server, client), daemon=True).start()
                _pipe(client, server)

    def close(self) -> None:
        self._server.close()


def _answer(client: socket.socket, first: bytes, response: bytes) -> None:
    """Read what is left of the request's body (a client that is still sending would not read the answer),
    then answer and close."""
    head, _, body = first.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    client.settimeout(5)
    try:
        while len(body) < length and (chunk := client.recv(65536)):
            body += chunk
        client.sendall(response)
    except OSError:
        pass


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        try:
            target.shutdown(socket.SHUT_WR)
        except OSError:
            pass
