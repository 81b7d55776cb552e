"""What the service's routes answer, as the OpenAPI document shows it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ocr_task.contract import ReportEntry


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    ready: bool
    engine: str
    detail: str | None = None


class Problem(BaseModel):
    """Every error: a sentence that says what was wrong, never a stack trace."""

    detail: str


class ManifestReference(BaseModel):
    manifest_uri: str = Field(description="s3:// URI of a manifest (see /v1/jobs) inside the allowed prefixes")
    idempotency_key: str | None = Field(
        None,
        max_length=200,
        description="The batch's own id: while a job with this key is queued or running, submitting again "
        "answers with that job instead of starting a second one (a launcher's retry)",
    )


class UploadResult(BaseModel):
    """The report entry of the uploaded document, and what was read from it."""

    entry: ReportEntry
    text: str
    markdown: str
    document: dict[str, Any] = Field(description="The JSON output: document → pages → blocks")


def validation_problems(error) -> str:
    """A validation error (pydantic's or FastAPI's) as one sentence per problem: where, and what is wrong.

    Never the values themselves: pydantic's ``input_value`` would echo a request's fields, or the start
    and end of an S3 object that was read as a manifest, to whoever sent it."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in error.errors())


def problems(*statuses: int) -> dict[int, dict]:
    """OpenAPI ``responses`` for these error statuses, each a :class:`Problem`."""
    return {status: {"model": Problem, "description": _MEANING[status]} for status in statuses}


_MEANING = {
    401: "Missing or wrong bearer token",
    403: "A source, output or report outside the allowed storage",
    404: "No such job (finished long ago, or the service restarted)",
    406: "Asked for a searchable PDF (Accept: application/pdf) that could not be made",
    413: "Request body over the size limit",
    415: "Unsupported document type",
    422: "Bad document or bad request",
    429: "The queue is full: retry later",
    500: "Internal error (see the service log)",
    503: "The engine is not ready, or storage is unreachable",
}
