"""The trigger that polls a job of the OCR service (through ``OcrServiceHook``), and cancelling a job.

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

from ocr_pipeline.launchers.service_hook import OcrServiceHook
from ocr_task.contract import JobStatus


def cancel_job(http_conn_id: str, job_id: str, log) -> None:
    """Cancel the job (``OcrServiceHook.cancel``); never raises: the kill goes on, the job's report is ignored."""
    try:
        log.info("Cancelled OCR job %s: %s", job_id, OcrServiceHook(http_conn_id).cancel(job_id))
    except Exception as error:  # noqa: BLE001 - see the docstring
        log.warning("Could not cancel OCR job %s: %s", job_id, error)


class OcrJobTrigger(BaseTrigger):
    """Polls one job of the OCR service until it is over for this attempt (see the module's docstring).

    :param http_conn_id: the Airflow HTTP connection of the service
    :param job_id: the job to follow
    :param poll_seconds: how often to ask
    :param unreachable_seconds: how long the service may give no answer before the event says ``unreachable``
    """

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

        hook = OcrServiceHook(self.http_conn_id)
        answered = time.monotonic()
        last_progress = None
        while True:
            try:
                status, body = await hook.job(self.job_id)
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
