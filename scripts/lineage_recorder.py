"""A small OpenLineage consumer on loopback: it takes what Airflow's OpenLineage HTTP transport sends and
appends each event, as received, to a JSON Lines file. It stands in for Marquez or DataHub, which cannot run
on this machine; ``make stack`` and the system tests start it (``scripts/stack.py``), and the tests read the
file to check what a lineage user would see.

    python scripts/lineage_recorder.py --port 5057 --out events.jsonl --key-file key

It asks who is calling (``Authorization: Bearer <key>``, the transport's ``api_key`` auth; 401 otherwise),
takes only ``POST /api/v1/lineage`` (Marquez's path), only JSON objects up to 5 MB, listens on 127.0.0.1 only
and writes nothing but its one file.
"""

from __future__ import annotations

import argparse
import hmac
import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ENDPOINT = "/api/v1/lineage"
MAX_BYTES = 5 * 1024 * 1024


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, out: Path, key: str):
        super().__init__(("127.0.0.1", port), _Handler)
        self.out, self.key = out, key
        self.lock = threading.Lock()

    def record(self, event: dict) -> None:
        with self.lock, self.out.open("a", encoding="utf-8") as file:
            file.write(json.dumps(event, ensure_ascii=False) + "\n")


class _Handler(BaseHTTPRequestHandler):
    server: Recorder

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        if self.path.split("?")[0] != ENDPOINT:
            return self._answer(HTTPStatus.NOT_FOUND)
        given = self.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(given.encode(), self.server.key.encode()):
            return self._answer(HTTPStatus.UNAUTHORIZED)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BYTES:
            return self._answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        try:
            event = json.loads(self.rfile.read(length))
        except ValueError:
            return self._answer(HTTPStatus.BAD_REQUEST)
        if not isinstance(event, dict):
            return self._answer(HTTPStatus.BAD_REQUEST)
        self.server.record(event)
        self._answer(HTTPStatus.CREATED)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(HTTPStatus.OK if self.path == "/health" else HTTPStatus.NOT_FOUND)

    def _answer(self, status: HTTPStatus) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - one line per request is enough
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--key-file", type=Path, required=True, help="file holding the API key callers must send")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Recorder(args.port, args.out, args.key_file.read_text().strip()).serve_forever()


if __name__ == "__main__":
    main()
