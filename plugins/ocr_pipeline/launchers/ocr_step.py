"""How a container launcher invokes the OCR step: its command, its image, the settings handed on to it, and
how it reaches the documents' S3 (never frozen credentials)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from ocr_pipeline.handoffs import Batch
from ocr_pipeline.settings import LauncherSettings

# Settings of the OCR step that a launcher hands on to the container from the Airflow worker's environment.
_PASSED_ON = (
    "OCR_WORKERS",
    "OCR_DPI",
    "OCR_MAX_PAGES",
    "OCR_MAX_PIXELS",
    "OCR_MAX_FILE_MB",
    "OCR_TESSDATA_DIR",
    "OCR_BATCH_FAILURE_SHARE",
)


def ocr_command(batch: Batch) -> list[str]:
    """The OCR CLI invocation for a batch, the same for every launcher: the manifest says everything else."""
    return ["python", "-m", "ocr_task", "run", "--manifest", batch.manifest_uri]


def ocr_image() -> str:
    """The OCR image the container launchers run (``OCR_IMAGE``)."""
    return LauncherSettings().image


def ocr_step_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in _PASSED_ON or k.startswith("OCR_VL_")}


@dataclass
class StorageAccess:
    """How the OCR step reaches the documents' S3, from the Airflow AWS connection.

    Never frozen session credentials (a one-hour role session would expire
    inside a four-hour batch): the connection's static keys, which do not
    expire, and its ``role_arn``, which the step assumes itself (botocore
    refreshes assumed-role credentials); with neither, the step's own
    credential chain (instance profile, IRSA, the job's role), which refreshes too.
    """

    public: dict[str, str] = field(default_factory=dict)  # endpoint, region
    secret: dict[str, str] = field(default_factory=dict)  # static keys
    role_arn: str | None = None

    @classmethod
    def of(cls, storage: S3Hook) -> StorageAccess:
        config = storage.conn_config
        public = {}
        if config.endpoint_url:
            public["AWS_ENDPOINT_URL"] = config.endpoint_url
        if config.region_name:
            public["AWS_DEFAULT_REGION"] = config.region_name
        secret = {}
        if config.aws_access_key_id and config.aws_secret_access_key:
            secret = {
                "AWS_ACCESS_KEY_ID": config.aws_access_key_id,
                "AWS_SECRET_ACCESS_KEY": config.aws_secret_access_key,
            }
            if config.aws_session_token:  # a token written into the connection is the user's choice
                secret["AWS_SESSION_TOKEN"] = config.aws_session_token
        return cls(public, secret, config.role_arn)

    def profile(self) -> str:
        """An AWS config file whose default profile assumes ``role_arn`` and refreshes it as needed."""
        source = "Environment" if self.secret else "Ec2InstanceMetadata"
        return f"[default]\nrole_arn = {self.role_arn}\ncredential_source = {source}\nrole_session_name = ocr-task\n"
