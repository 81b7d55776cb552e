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


class UploadResult(BaseModel):
    """The report entry of the uploaded document, and what was read from it."""

    entry: ReportEntry
    text: str
    markdown: str
    document: dict[str, Any] = Field(description="The JSON output: document → pages → blocks")


def problems(*statuses: int) -> dict[int, dict]:
    """OpenAPI ``responses`` for these error statuses, each a :class:`Problem`."""
    return {status: {"model": Problem, "description": _MEANING[status]} for status in statuses}


_MEANING = {
    401: "Missing or wrong bearer token",
    403: "A source, output or report outside the allowed storage",
    404: "No such job (finished long ago, or the service restarted)",
    413: "Request body over the size limit",
    415: "Unsupported document type",
    422: "Bad document or bad request",
    429: "The queue is full: retry later",
    500: "Internal error (see the service log)",
    503: "The engine is not ready, or storage is unreachable",
}
