"""The OCR image as an AWS Batch job with one GPU; credentials come from the job's IAM role."""

from __future__ import annotations

from airflow.providers.amazon.aws.operators.batch import BatchOperator

from ocr_pipeline.launchers.base import OcrLaunch, as_batch
from ocr_pipeline.launchers.ocr_step import ocr_command, ocr_step_environment
from ocr_pipeline.settings import LauncherSettings


class AwsBatchOcrOperator(OcrLaunch, BatchOperator):
    def __init__(self, **kwargs):
        batch = as_batch(kwargs["batch"])
        kwargs.setdefault("job_name", f"ocr-batch-{batch.batch_id}")
        environment = [{"name": k, "value": v} for k, v in ocr_step_environment().items()]
        kwargs.setdefault(
            "container_overrides",
            {
                "command": ocr_command(batch),
                "resourceRequirements": [{"type": "GPU", "value": "1"}],
                "environment": environment,
            },
        )
        kwargs["deferrable"] = False  # the report check runs in execute(), after the job (see kubernetes.py)
        super().__init__(**kwargs)

    @classmethod
    def deployment_arguments(cls) -> dict:
        settings = LauncherSettings()
        return {"job_definition": settings.batch_job_definition, "job_queue": settings.batch_job_queue}

    def exit_code_of(self, error: Exception) -> int | None:
        """The job's container exit code, as AWS Batch describes the failed job."""
        if not getattr(self, "job_id", None):
            return None
        try:
            description = self.hook.get_job_description(self.job_id)
        except Exception:  # noqa: BLE001 - unknown: left to the retry
            return None
        return (description.get("container") or {}).get("exitCode")

    def launch(self, context) -> None:
        BatchOperator.execute(self, context)
