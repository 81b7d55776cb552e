"""Talking to the OCR service's jobs API from Airflow: the bearer token, and the trigger that polls a job.

The trigger runs in the triggerer, so the ``ocr`` task holds no worker slot
while the GPU works. It yields one event when the job is over for this
attempt: ``succeeded`` (the batch ran and wrote its report), ``failed``,
``cancelled``, ``lost`` (the service no longer knows the job: it restarted),
``unreachable`` (no answer for ``unreachable_seconds``) or ``refused``
(the service refuses this client: wrong token).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from ocr_task.contract import JobStatus

JOBS_ENDPOINT = "/v1/jobs"


def bearer_headers(password: str | None) -> dict[str, str]:
    """The ``ocr_service`` connection's password is the service's token (none: a loopback service)."""
    return {"Authorization": f"Bearer {password}"} if password else {}


def cancel_job(http_conn_id: str, job_id: str, log) -> None:
    """``DELETE`` the job (a queued one ends now, a running one after the documents under way); never raises."""
    from airflow.providers.http.hooks.http import HttpHook

    hook = HttpHook(method="DELETE", http_conn_id=http_conn_id)
    try:
        response = hook.run(
            endpoint=f"{JOBS_ENDPOINT}/{job_id}",
            headers=bearer_headers(hook.get_connection(http_conn_id).password),
            extra_options={"timeout": 20, "check_response": False},
        )
        log.info("Cancelled OCR job %s: %s", job_id, response.status_code)
    except Exception as error:  # noqa: BLE001 - the kill goes on; the job's report is ignored anyway
        log.warning("Could not cancel OCR job %s: %s", job_id, error)


class OcrJobTrigger(BaseTrigger):
    def __init__(
        self, http_conn_id: str, job_id: str, poll_seconds: float = 15, unreachable_seconds: float = 120
    ):
        super().__init__()
        self.http_conn_id = http_conn_id
        self.job_id = job_id
        self.poll_seconds = poll_seconds
        self.unreachable_seconds = unreachable_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "http_conn_id": self.http_conn_id,
                "job_id": self.job_id,
                "poll_seconds": self.poll_seconds,
                "unreachable_seconds": self.unreachable_seconds,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        import aiohttp
        from airflow.providers.common.compat.connection import get_async_connection
        from airflow.providers.http.hooks.http import HttpAsyncHook

        hook = HttpAsyncHook(method="GET", http_conn_id=self.http_conn_id, retry_limit=1)
        headers = bearer_headers((await get_async_connection(self.http_conn_id)).password)
        endpoint = f"{JOBS_ENDPOINT}/{self.job_id}"
        answered = time.monotonic()
        last_progress = None
        while True:
            try:
                async with hook.session() as http:
                    response = await http.run(
                        endpoint=endpoint, headers=headers, extra_options={"check_response": False}
                    )
                    body = await response.json(content_type=None) if response.content_type else None
                    status = response.status
            except (TimeoutError, aiohttp.ClientError, ValueError) as error:
                if time.monotonic() - answered > self.unreachable_seconds:
                    yield self._event(
                        "unreachable", f"no answer for {self.unreachable_seconds:.0f} s: {error}"
                    )
                    return
                self.log.warning("OCR service did not answer (%s); polling again", error)
                await asyncio.sleep(self.poll_seconds)
                continue
            answered = time.monotonic()
            if status == 200 and JobStatus(body["status"]).finished:
                yield self._event(body["status"], body.get("error") or "")
                return
            if status == 404:
                yield self._event("lost", "the OCR service no longer knows the job (it restarted?)")
                return
            if status in (401, 403):
                yield self._event("refused", f"{status}: {body}")
                return
            if status == 200 and body["progress"] != last_progress:
                last_progress = body["progress"]
                self.log.info("Job %s %s: %s", self.job_id, body["status"], last_progress)
            elif status != 200:
                self.log.warning("OCR service answered %s: %s; polling again", status, body)
            await asyncio.sleep(self.poll_seconds)

    async def on_kill(self) -> None:
        """The task was marked failed or cleared while its job runs: cancel the job (Airflow calls this on a
        user's action only, not when the triggerer restarts or the trigger times out)."""
        from asgiref.sync import sync_to_async

        await sync_to_async(cancel_job)(self.http_conn_id, self.job_id, self.log)

    def _event(self, status: str, message: str) -> TriggerEvent:
        """The one event a trigger yields, in the providers' shape: ``status`` (the job's final ``JobStatus``, or
        ``lost``, ``refused``, ``unreachable``), ``message`` and the ``job_id``."""
        return TriggerEvent({"status": status, "message": message, "job_id": self.job_id})
