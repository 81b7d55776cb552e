"""The OCR service in a child process on a free loopback port, as tests talk to it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from tests.conftest import REPO
from tests.network import free_port

TOKEN = "test-token-" + "x" * 20


class Service:
    """``python -m ocr_task serve`` with a token (``TOKEN`` unless told) and ``client`` that sends it."""

    def __init__(
        self,
        env: dict[str, str],
        python: str = sys.executable,
        token: str | None = TOKEN,
        host: str = "127.0.0.1",
        port: int | None = None,
    ):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = token
        self.env = {**os.environ, **env}
        self.env.pop("OCR_SERVICE_TOKEN", None)
        if token:
            self.env["OCR_SERVICE_TOKEN"] = token
        self.command = [python, "-m", "ocr_task", "serve", "--host", host, "--port", str(self.port)]
        self.client = httpx.Client(
            base_url=self.url, timeout=120, headers={"Authorization": f"Bearer {token}"} if token else {}
        )
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command,
            env=self.env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its worker processes die with it in kill()
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

    def wait_for_job(self, job_id: str, seconds: float = 120) -> dict:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            job = self.client.get(f"/v1/jobs/{job_id}").json()
            if job["status"] in ("succeeded", "failed", "cancelled"):
                return job
            time.sleep(0.3)
        raise TimeoutError(f"job {job_id} did not end")

    def kill(self) -> None:
        """Gone at once with its workers, as a crash or a killed container leaves it: its jobs with it."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> str:
        self.process.terminate()
        _, errors = self.process.communicate(timeout=60)
        self.client.close()
        return errors


def serving(env: dict[str, str]):
    """A service for a fixture: started and ready, then stopped; its log must hold no traceback."""
    running = Service({"OCR_WORKERS": "1", **env})
    running.wait_for("/ready", 200)
    yield running
    log = running.stop()
    assert "Traceback" not in log, log
