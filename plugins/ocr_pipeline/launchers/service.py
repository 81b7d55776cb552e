"""Sends the batch to the long-running OCR service (``python -m ocr_task serve``), engine already loaded."""

from __future__ import annotations

import os

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from ocr_pipeline.discovery import split_uri
from ocr_pipeline.launchers.base import OcrLaunch


class ServiceOcrOperator(OcrLaunch):
    """The service's URL is the Airflow HTTP connection ``http_conn_id``. The
    request body is the batch's manifest; the service writes the same outputs
    and report as the CLI. 503 (engine not ready, storage unreachable) and
    429 (queue full) are retried; other 4xx are not.
    """

    def __init__(self, *, http_conn_id: str = "ocr_service", request_timeout: int = 4 * 3600, **kwargs):
        super().__init__(**kwargs)
        self.http_conn_id = http_conn_id
        self.request_timeout = request_timeout

    @classmethod
    def deployment_arguments(cls) -> dict:
        return {"http_conn_id": os.environ.get("OCR_SERVICE_CONN_ID", "ocr_service")}

    def launch(self, context) -> None:
        from airflow.providers.http.hooks.http import HttpHook

        bucket, key = split_uri(self.batch.manifest_uri)
        manifest = S3Hook(aws_conn_id=self.storage_conn_id).read_key(key, bucket)
        response = HttpHook(method="POST", http_conn_id=self.http_conn_id).run(
            endpoint="/v1/ocr",
            data=manifest,
            headers={"Content-Type": "application/json"},
            extra_options={"timeout": self.request_timeout, "check_response": False},
        )
        if response.status_code == 200:
            return
        detail = response.text[:500]
        if response.status_code in (408, 429) or response.status_code >= 500:
            raise AirflowException(f"OCR service answered {response.status_code}: {detail}")
        raise AirflowFailException(f"OCR service refused the batch ({response.status_code}): {detail}")
