"""What every launcher does around starting the OCR step for one batch.

* before: forget any report an earlier attempt left, so that a report means *this* attempt ran;
* after: the batch ran if its report exists — exit code 3 (some documents
  rejected) is then success, not a failure to retry; without a report the
  launch failed: exit code 2 (the step refused its arguments) fails the task
  for good, anything else (1: storage unreachable, engine cannot load) is
  retried by the scheduler. The same for every launcher;
* lineage: an asset event on the output prefix with the batch's figures, and
  OpenLineage datasets and facets (``launchers.lineage``).

How a container runs the step (command, image, settings, S3 access) is ``launchers.ocr_step``.
"""

from __future__ import annotations

import re
from functools import cached_property

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from ocr_pipeline import layout
from ocr_pipeline.handoffs import Batch, Launched, read_report, read_text, write_text
from ocr_pipeline.launchers.lineage import batch_lineage
from ocr_task.contract import EXIT_USAGE, Manifest, Report


def as_batch(value: dict | Batch) -> Batch:
    """A batch as XCom hands it over (a dict), validated."""
    return Batch.model_validate(value) if isinstance(value, dict) else value


class OcrLaunch(BaseOperator):
    """The launch contract, mixed into each provider's operator (see the module docstring).

    ``storage_conn_id`` is the AWS connection of the documents' S3 (distinct
    from any connection the launcher itself uses, such as AWS Batch's).
    """

    def __init__(self, *, batch: dict | Batch, storage_conn_id: str = "aws_default", **kwargs):
        self.batch = as_batch(batch)
        self.storage_conn_id = storage_conn_id
        self._report: Report | None = None
        super().__init__(**kwargs)

    @cached_property
    def storage(self) -> S3Hook:
        """The documents' S3, one hook (one connection read, one client) for everything this task does there."""
        return S3Hook(aws_conn_id=self.storage_conn_id)

    @classmethod
    def deployment_arguments(cls) -> dict:
        """The launcher's deployment settings, from the environment (read when the DAG is parsed)."""
        return {}

    def launch(self, context) -> None:  # pragma: no cover - each launcher defines it
        raise NotImplementedError

    # where the provider's failure message carries the OCR step's exit code (one group of digits)
    exit_code_pattern: str | None = None

    def exit_code_of(self, error: Exception) -> int | None:
        """The OCR step's exit code behind a failed launch, where the launcher can tell it."""
        match = re.search(self.exit_code_pattern, str(error)) if self.exit_code_pattern else None
        return int(match.group(1)) if match else None

    def execute(self, context) -> dict:
        self.forget_report()
        try:
            self.launch(context)
            failure = None
        except AirflowFailException:
            raise
        except Exception as error:  # noqa: BLE001 - decided by whether the report was written
            failure = error
        return self.collect(context, failure)

    def forget_report(self) -> None:
        """Delete any report (and failure) an earlier attempt left: from now on a report means this attempt ran."""
        bucket, _ = layout.split(self.batch.report_uri)
        keys = [layout.split(uri)[1] for uri in (self.batch.report_uri, self.batch.failure_uri)]
        self.storage.delete_objects(bucket, keys)

    def note_failure(self, failure: Exception | str) -> None:
        """Leave why this attempt failed beside the batch's manifest: if it was the last attempt, the catalog
        step names the cause when it fails the run. Never raises: the failure itself is what matters."""
        try:
            write_text(self.storage, self.batch.failure_uri, str(failure)[:2000])
        except Exception as error:  # noqa: BLE001 - S3 may be the very thing that failed
            self.log.warning("Could not note the failure at %s: %s", self.batch.failure_uri, error)

    def collect(self, context, failure: Exception | None = None) -> dict:
        """The launch's outcome, decided by its report: the batch's figures, or the reason to retry or fail."""
        s3 = self.storage
        if not s3.check_for_key(self.batch.report_uri):
            if failure is None:
                failure = AirflowException(f"The OCR step ended without writing its report {self.batch.report_uri}")
            self.note_failure(failure)
            if self.exit_code_of(failure) == EXIT_USAGE:
                raise AirflowFailException(
                    f"The OCR step refused its arguments (exit code {EXIT_USAGE}); retrying cannot help: {failure}"
                ) from failure
            raise failure
        if failure is not None:
            self.log.warning(
                "The OCR step exited non-zero but wrote its report: some documents were rejected"
            )
        self._report = read_report(s3, self.batch.report_uri)
        summary = self._report.summary
        launched = Launched(
            batch_id=self.batch.batch_id, try_number=context["ti"].try_number, documents=summary.documents,
            succeeded=summary.succeeded, failed=summary.failed, pages=summary.pages, report_uri=self.batch.report_uri,
        )  # fmt: skip
        figures = launched.model_dump(exclude={"try_number"})
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = figures
        self.log.info("Batch %s: %s", self.batch.batch_id, figures)
        # figures only: post-processing reads the report itself (XCom never carries per-document lists)
        return launched.model_dump()

    def get_openlineage_facets_on_complete(self, task_instance):
        """OpenLineage for the batch (``launchers.lineage``)."""
        return batch_lineage(self.batch, self._report, None, task_instance)

    def get_openlineage_facets_on_failure(self, task_instance):
        """A batch that wrote no report: its inputs from the manifest, no outputs."""
        manifest = None
        if self._report is None:
            try:
                manifest = Manifest.model_validate_json(read_text(self.storage, self.batch.manifest_uri))
            except Exception as error:  # noqa: BLE001 - lineage never changes how the task ends
                self.log.warning("No lineage inputs: the manifest could not be read: %s", error)
        return batch_lineage(self.batch, self._report, manifest, task_instance)
