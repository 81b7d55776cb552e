"""The OCR service in a child process on a free loopback port, as tests talk to it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx

from tests.conftest import REPO


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    def __init__(self, env: dict[str, str], python: str = sys.executable):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [python, "-m", "ocr_task", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env={**os.environ, **env},
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.wait_for("/health", 200)

    def wait_for(self, path: str, status: int, seconds: float = 60) -> httpx.Response:
        deadline = time.monotonic() + seconds
        while True:
            try:
                response = httpx.get(self.url + path, timeout=5)
                if response.status_code == status:
                    return response
            except httpx.TransportError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"service exited: {self.process.stderr.read()}") from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path} never answered {status}")
            time.sleep(0.2)

    def stop(self) -> str:
        self.process.terminate()
        _, errors = self.process.communicate(timeout=30)
        return errors
