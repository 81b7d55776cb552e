"""Batches as jobs: accepted at once, run in the background, watched and cancelled by id.

A job belongs to the service, not to the request that submitted it: a client
that disconnects, or polls from another process, loses nothing. Jobs live in
memory; a restarted service has none, and the launcher that polls a lost job
(404) submits it again.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from ocr_task.contract import JobStatus, Manifest, Report
from ocr_task.errors import BatchCancelled, BatchError
from ocr_task.progress import Progress
from ocr_task.service.engine import LoadedRunner

log = logging.getLogger("ocr_task.service")


class JobProgress(BaseModel):
    documents: int
    documents_done: int
    documents_failed: int
    pages_done: int


class JobView(BaseModel):
    """A job as ``GET /v1/jobs/{id}`` shows it."""

    id: str
    status: JobStatus
    submitted_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress: JobProgress
    error: str | None = None
    report: Report | None = None


@dataclass
class Job:
    manifest: Manifest
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    status: JobStatus = JobStatus.queued
    submitted_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    report: Report | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    task: asyncio.Task | None = None
    idempotency_key: str | None = None

    def __post_init__(self):
        self.progress = Progress(len(self.manifest.documents), every_seconds=30)

    def view(self) -> JobView:
        return JobView(
            id=self.id,
            status=self.status,
            submitted_at=self.submitted_at,
            started_at=self.started_at,
            finished_at=self.finished_at,
            progress=JobProgress(
                documents=self.progress.documents,
                documents_done=self.progress.done,
                documents_failed=self.progress.failed,
                pages_done=self.progress.pages,
            ),
            error=self.error,
            report=self.report,
        )


class JobBoard:
    """The service's jobs: each holds a place in the engine's queue from submission to its end."""

    def __init__(self, engine: LoadedRunner, finished_kept: int):
        self.engine = engine
        self.finished_kept = finished_kept
        self.jobs: OrderedDict[str, Job] = OrderedDict()

    def submit(self, manifest: Manifest, idempotency_key: str | None = None) -> Job:
        """Queue the job (``QueueFull`` from the engine's places when the queue is full); with an
        ``idempotency_key`` that a queued or running job holds, that job instead of a second one."""
        if (job := self.live(idempotency_key)) is not None:
            log.info("job %s: submitted again with its idempotency key; still %s", job.id, job.status.value)
            return job
        self.engine.places.take()
        job = Job(manifest, idempotency_key=idempotency_key)
        self.jobs[job.id] = job
        job.task = asyncio.create_task(self._run(job), name=f"job-{job.id}")
        self._forget_old()
        log.info("job %s: %d documents queued", job.id, len(manifest.documents))
        return job

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def live(self, idempotency_key: str | None) -> Job | None:
        """The queued or running job submitted with this key, if any (a finished one is no answer: a
        launcher that submits again after its job ended wants the batch run again)."""
        if idempotency_key is None:
            return None
        return next(
            (j for j in self.jobs.values() if j.idempotency_key == idempotency_key and not j.status.finished), None
        )

    def cancel(self, job: Job) -> None:
        """A queued job ends now; a running one ends after the documents under way."""
        job.cancel.set()
        if job.status is JobStatus.queued and job.task is not None:
            job.task.cancel()

    async def close(self) -> None:
        for job in self.jobs.values():
            if not job.status.finished:
                self.cancel(job)
        await asyncio.gather(*(j.task for j in self.jobs.values() if j.task), return_exceptions=True)

    async def _run(self, job: Job) -> None:
        try:
            async with self.engine.turns:
                job.status, job.started_at = JobStatus.running, datetime.now(UTC)
                job.report = await run_in_threadpool(
                    self.engine.runner.run,
                    job.manifest.documents,
                    job.manifest.output,
                    job.manifest.report,
                    progress=job.progress,
                    cancel=job.cancel,
                )
                job.status = JobStatus.succeeded
        except (asyncio.CancelledError, BatchCancelled) as cancelled:
            job.status, job.error = JobStatus.cancelled, str(cancelled) or "cancelled before it started"
        except BatchError as error:
            job.status, job.error = JobStatus.failed, str(error)
        except Exception as error:  # noqa: BLE001 - the job fails, the service goes on
            log.exception("job %s failed", job.id)
            job.status, job.error = JobStatus.failed, f"internal error: {type(error).__name__}: {error}"
        finally:
            job.finished_at = datetime.now(UTC)
            self.engine.places.give_back()
            log.info("job %s: %s %s", job.id, job.status.value, job.error or "")

    def _forget_old(self) -> None:
        finished = [j.id for j in self.jobs.values() if j.status.finished]
        for job_id in finished[: max(0, len(finished) - self.finished_kept)]:
            del self.jobs[job_id]

