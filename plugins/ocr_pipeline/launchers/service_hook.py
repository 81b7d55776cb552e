"""The OCR service's jobs API (``python -m ocr_task serve``), as one Airflow hook: synchronous calls for the
operator (submit, cancel) and an asynchronous one for its trigger (a job's state), as the amazon provider's
hooks serve both. The service's URL and token are the HTTP connection ``http_conn_id`` (token = its password;
none for a loopback service)."""

from __future__ import annotations

import json
from typing import Any

from airflow.sdk import BaseHook

JOBS_ENDPOINT = "/v1/jobs"


class OcrServiceError(Exception):
    """The service did not take the request: ``retryable`` when it may take it later (408, 429, 5xx)."""

    def __init__(self, status: int, detail: str):
        self.status, self.retryable = status, status in (408, 429) or status >= 500
        super().__init__(f"OCR service answered {status}: {detail}")


class OcrServiceHook(BaseHook):
    """Talks to the OCR service's jobs API.

    :param http_conn_id: the Airflow HTTP connection of the service (its password is the service's token)
    """

    conn_name_attr = "http_conn_id"
    default_conn_name = "ocr_service"
    conn_type = "http"
    hook_name = "OCR service"

    def __init__(self, http_conn_id: str = default_conn_name):
        super().__init__()
        self.http_conn_id = http_conn_id

    @staticmethod
    def bearer_headers(password: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {password}"} if password else {}

    def _http(self, method: str):
        from airflow.providers.http.hooks.http import HttpHook

        hook = HttpHook(method=method, http_conn_id=self.http_conn_id)
        return hook, self.bearer_headers(hook.get_connection(self.http_conn_id).password)

    def submit(self, manifest_uri: str, idempotency_key: str) -> str:
        """Submit a batch by its manifest (the service reads it); returns the job's id. A second submission
        with the same ``idempotency_key`` finds the first job instead of starting another.

        :param manifest_uri: where planning wrote the batch's manifest
        :param idempotency_key: the batch's id
        :raises OcrServiceError: the service did not take the job
        """
        hook, headers = self._http("POST")
        response = hook.run(
            endpoint=f"{JOBS_ENDPOINT}/by-reference",
            data=json.dumps({"manifest_uri": manifest_uri, "idempotency_key": idempotency_key}),
            headers={"Content-Type": "application/json", **headers},
            extra_options={"timeout": 60, "check_response": False},
        )
        if response.status_code != 202:
            raise OcrServiceError(response.status_code, response.text[:500])
        return response.json()["id"]

    def cancel(self, job_id: str) -> int:
        """``DELETE`` the job (a queued one ends now, a running one after the documents under way); returns the
        service's status code.

        :param job_id: the id :meth:`submit` returned
        """
        hook, headers = self._http("DELETE")
        response = hook.run(
            endpoint=f"{JOBS_ENDPOINT}/{job_id}", headers=headers, extra_options={"timeout": 20, "check_response": False}
        )
        return response.status_code

    async def job(self, job_id: str) -> tuple[int, dict[str, Any] | None]:
        """The job as the service says it is now: the status code and the body (``status``, ``progress``,
        ``error``). Raises ``TimeoutError``, ``aiohttp.ClientError`` or ``ValueError`` when there is no answer.

        :param job_id: the id :meth:`submit` returned
        """
        from airflow.providers.common.compat.connection import get_async_connection
        from airflow.providers.http.hooks.http import HttpAsyncHook

        hook = HttpAsyncHook(method="GET", http_conn_id=self.http_conn_id, retry_limit=1)
        headers = self.bearer_headers((await get_async_connection(self.http_conn_id)).password)
        async with hook.session() as http:
            response = await http.run(
                endpoint=f"{JOBS_ENDPOINT}/{job_id}", headers=headers, extra_options={"check_response": False}
            )
            body = await response.json(content_type=None) if response.content_type else None
            return response.status, body
