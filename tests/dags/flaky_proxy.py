"""A TCP proxy in front of the S3 server that makes storage unreachable on demand.

Airflow's own S3 calls (its user agent says ``Airflow/``) pass, so discovery
and planning work, while the first ``drop`` connections of any other client
(the OCR CLI's boto3) are closed before a byte is answered. While ``blocked``
is set, every new connection is closed unanswered: S3 is down for everyone.
"""

from __future__ import annotations

import socket
import threading


class FlakyProxy:
    def __init__(self, upstream: tuple[str, int], drop: int = 0):
        self.upstream = upstream
        self.drop = drop
        self.blocked = False
        self.dropped = 0
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

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
            with socket.create_connection(self.upstream) as server:
                server.sendall(first)
                threading.Thread(target=_pipe, args=(server, client), daemon=True).start()
                _pipe(client, server)

    def close(self) -> None:
        self._server.close()


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
