"""Sends the batch to the long-running OCR service (``python -m ocr_task serve``) as a job (a reference to its
manifest, which the service reads), and defers.

The service's URL and token are the Airflow HTTP connection ``http_conn_id``
(token = its password). Submitting answers at once with a job id; the task
then defers to :class:`OcrJobTrigger` and resumes when the job is over, with
the same contract as every launcher (the report decides). 429, 5xx, a
connection error, a job lost by a service restart or one that failed for the
batch's sake are retried (the retry submits the batch again); other 4xx and a
cancelled job fail the task for good.

Never two jobs for one batch: each submission carries the batch's id as its idempotency key, so a retry
(after "unreachable", or a task timeout) finds the job still at work instead of starting a second one
that would write the same report; a task marked failed or cleared while deferred cancels its job
(``OcrJobTrigger.on_kill``), and so does a task killed while it submits (``on_kill``).
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowException, AirflowFailException

from ocr_pipeline.launchers.base import OcrLaunch
from ocr_pipeline.launchers.service_hook import OcrServiceError, OcrServiceHook
from ocr_pipeline.launchers.service_job import OcrJobTrigger, cancel_job
from ocr_pipeline.settings import LauncherSettings
from ocr_task.contract import JobStatus


class ServiceOcrOperator(OcrLaunch):
    """Runs one batch as a job of the OCR service, deferred while the job runs (see the module's docstring).

    :param batch: the batch (as ``plan`` hands it on)
    :param storage_conn_id: the AWS connection of the documents' S3
    :param http_conn_id: the Airflow HTTP connection of the OCR service (its password is the service's token)
    :param poll_seconds: how often the trigger asks for the job's state
    :param unreachable_seconds: how long the service may give no answer before the try fails (and is retried)
    """

    def __init__(
        self,
        *,
        http_conn_id: str = "ocr_service",
        poll_seconds: float = 15,
        unreachable_seconds: float = 120,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.http_conn_id = http_conn_id
        self.poll_seconds = poll_seconds
        self.unreachable_seconds = unreachable_seconds
        self._job_id: str | None = None

    @classmethod
    def deployment_arguments(cls) -> dict:
        settings = LauncherSettings()
        return {"http_conn_id": settings.service_conn_id, "poll_seconds": settings.service_poll_seconds}

    def execute(self, context) -> None:
        self.forget_report()
        job_id = self._job_id = self._submit()
        self.log.info(
            "Batch %s is job %s of the OCR service; deferring until it ends", self.batch.batch_id, job_id
        )
        self.defer(
            trigger=OcrJobTrigger(self.http_conn_id, job_id, self.poll_seconds, self.unreachable_seconds),
            method_name="execute_complete",
        )

    def execute_complete(self, context, event: dict) -> dict:
        status, message = event["status"], event["message"]
        if status == JobStatus.succeeded:
            return self.collect(context)
        failure = f"OCR job {event['job_id']} {status}: {message}"
        self.note_failure(failure)
        if status in (JobStatus.cancelled, "refused"):
            raise AirflowFailException(failure)
        raise AirflowException(failure)

    def _submit(self) -> str:
        """The batch submitted by reference to its manifest, its id the idempotency key; returns the job's id."""
        try:
            return OcrServiceHook(self.http_conn_id).submit(self.batch.manifest_uri, self.batch.batch_id)
        except OcrServiceError as error:
            if error.retryable:
                raise AirflowException(str(error)) from error
            raise AirflowFailException(f"The OCR service refused the batch: {error}") from error

    def on_kill(self) -> None:
        """Killed while submitting (a deferred task's job is cancelled by its trigger's ``on_kill``)."""
        if self._job_id is not None:
            cancel_job(self.http_conn_id, self._job_id, self.log)
