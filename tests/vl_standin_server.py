"""A STAND-IN for a vLLM server with PaddleOCR-VL: an OpenAI-compatible ``POST /v1/chat/completions`` on
loopback that replaces only the GPU model. Everything that talks to it (the real ``paddleocr`` client, the
OCR step, the service, the pipeline) is real.

Its answer is derived from the page it is sent, so each page's answer can be told apart: the page's mean
brightness on a 0–20 scale (``"Stand-in page with brightness 7"``). It records every request (model,
prompt, image size, parameters) and can add a fixed latency, answer 500, or answer garbage for pages of a
given brightness.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image, ImageStat


def brightness(image: Image.Image) -> int:
    return round(ImageStat.Stat(image.convert("L")).mean[0] / 255 * 20)


def answer_for(level: int) -> str:
    return f"Stand-in page with brightness {level}"


@dataclass
class Recorded:
    model: str
    prompt: str
    image_format: str
    image_size: tuple[int, int]
    level: int
    body: dict


@dataclass
class StandInVlmServer:
    latency: float = 0.0
    fail_levels: set[int] = field(default_factory=set)  # answer 500 for these pages
    garbage_levels: set[int] = field(default_factory=set)  # answer a body that is not a completion
    overloaded: int = 0  # the next this many requests are answered 503, as a vLLM server that is overloaded
    requests: list[Recorded] = field(default_factory=list)
    in_flight_samples: list[int] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._in_flight = 0
        self.max_in_flight = 0
        self.busy_seconds = 0.0  # summed over requests: busy_seconds / wall time = mean requests in flight
        self.first_request: float | None = None  # perf_counter() of the first request and the last answer
        self.last_answer: float | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                self._send(404, {"error": "the stand-in answers chat completions only"})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._send(404, {"error": f"no route {self.path}"})
                status, payload = server._complete(body)
                self._send(status, payload)

            def _send(self, status: int, payload):
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def reset_counters(self) -> None:
        """Forget what was seen so far (a benchmark measures its second batch alone)."""
        with self._lock:
            self.requests.clear()
            self.in_flight_samples.clear()
            self.max_in_flight, self.busy_seconds = 0, 0.0
            self.first_request = self.last_answer = None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _complete(self, body: dict):
        started = time.perf_counter()
        with self._lock:
            self.first_request = self.first_request or started
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            self.in_flight_samples.append(self._in_flight)
        try:
            prompt, image = "", None
            for part in body["messages"][-1]["content"]:
                if part.get("type") == "text":
                    prompt = part["text"]
                elif part.get("type") == "image_url":
                    header, _, data = part["image_url"]["url"].partition(",")
                    image = Image.open(io.BytesIO(base64.b64decode(data)))
                    image_format = header.removeprefix("data:").split(";")[0]
            size = image.size
            # A JPEG decoded at an eighth of its size: the same mean brightness for a fraction of the CPU, which
            # the stand-in shares with the client it measures (a real server has its own machine).
            image.draft("L", (image.width // 8, image.height // 8))
            level = brightness(image)
            with self._lock:
                self.requests.append(Recorded(body.get("model"), prompt, image_format, size, level, body))
            if self.latency:
                time.sleep(self.latency)
            with self._lock:
                overloaded, self.overloaded = self.overloaded > 0, max(self.overloaded - 1, 0)
            if overloaded:
                return 503, {"error": {"message": "stand-in overloaded", "type": "service_unavailable"}}
            if level in self.fail_levels:
                return 500, {"error": {"message": "stand-in failure", "type": "server_error"}}
            if level in self.garbage_levels:
                return 200, b"<html>not a completion</html>"
            return 200, {
                "id": f"standin-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [
                    {"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": answer_for(level)}}
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }  # fmt: skip
        finally:
            with self._lock:
                self._in_flight -= 1
                self.last_answer = time.perf_counter()
                self.busy_seconds += self.last_answer - started
