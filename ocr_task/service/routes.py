"""The service's routes: health and readiness (open), uploads and jobs (behind the bearer token)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from ocr_task import result as render
from ocr_task.contract import Manifest, ManifestDocument
from ocr_task.errors import BatchError, DocumentError, DocumentUnreachable, StorageUnavailable
from ocr_task.naming import output_name
from ocr_task.service.access import require_token, storage_refusal, uri_refusal
from ocr_task.service.engine import LoadedRunner, QueueFull
from ocr_task.service.jobs import Job, JobBoard, JobView
from ocr_task.service.models import (
    Health,
    ManifestReference,
    Readiness,
    UploadResult,
    problems,
    validation_problems,
)

public = APIRouter()
v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_token)], responses=problems(401, 500))


def _engine(request: Request) -> LoadedRunner:
    return request.app.state.engine


def _jobs(request: Request) -> JobBoard:
    return request.app.state.jobs


def _ready_engine(engine: Annotated[LoadedRunner, Depends(_engine)]) -> LoadedRunner:
    if (reason := engine.not_ready) is not None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"engine not ready: {reason}")
    return engine


AnyEngine = Annotated[LoadedRunner, Depends(_engine)]
ReadyEngine = Annotated[LoadedRunner, Depends(_ready_engine)]
Jobs = Annotated[JobBoard, Depends(_jobs)]


@public.get("/health", response_model=Health, summary="Liveness: the process answers")
async def health() -> Health:
    return Health(status="ok")


@public.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "The engine is loading or cannot load"}},
    summary="Readiness: the engine is loaded and can run",
)
async def ready(engine: AnyEngine):
    reason = engine.not_ready
    body = Readiness(ready=reason is None, engine=engine.settings.engine, detail=reason)
    return body if reason is None else JSONResponse(status_code=503, content=body.model_dump())


@v1.post(
    "/ocr",
    response_model=UploadResult,
    responses={**problems(406, 413, 415, 422, 429, 503),
               200: {"content": {"application/pdf": {}}, "description": "What was read; with Accept: "
                     "application/pdf, the searchable PDF (the document with its text as an invisible layer)"}},
    summary="OCR one uploaded document and answer with what was read (for small documents)",
)
async def ocr_upload(file: UploadFile, engine: ReadyEngine, request: Request) -> UploadResult:
    source = file.filename or "upload"
    name = output_name(Path(source).name)
    wants_pdf = "application/pdf" in request.headers.get("accept", "")  # made only when asked for
    async with engine.turns:
        with tempfile.TemporaryDirectory(prefix="ocr-upload-") as scratch:
            path = Path(scratch) / name
            with path.open("wb") as out:
                while chunk := await file.read(1 << 20):
                    out.write(chunk)
            try:
                item = ManifestDocument(source=str(path), name=name)
                entry, document, pdf = await run_in_threadpool(engine.runner.read, item, wants_pdf)
            except BatchError as error:
                raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(error)) from error
    if document is None and entry.retryable:  # not the document's fault: try again later
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, entry.error or "document could not be read")
    if document is None:
        error = entry.error or "document failed"
        unsupported = error.startswith("unsupported document type")
        raise HTTPException(415 if unsupported else 422, error)
    if wants_pdf:
        if pdf is None:
            raise HTTPException(406, "no searchable PDF could be made of this document (OCR_SEARCHABLE_PDF, or the log)")
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(Path(name).stem)}.pdf"})  # fmt: skip
    return UploadResult(
        entry=entry.model_copy(update={"source": source}),
        text=render.to_text(document),
        markdown=render.to_markdown(document),
        document=json.loads(render.to_json(document)),
    )


@v1.post(
    "/jobs",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobView,
    responses=problems(403, 422, 429, 503),
    summary="Queue a batch of S3 documents (the manifest); answers at once with the job to poll",
)
async def submit_job(
    manifest: Manifest, request: Request, engine: ReadyEngine, jobs: Jobs, idempotency_key: str | None = None
) -> JobView:
    if manifest.engine and manifest.engine != engine.settings.engine:
        raise HTTPException(
            422, f"this service runs the {engine.settings.engine} engine, not {manifest.engine}"
        )
    if (refusal := storage_refusal(manifest, request.app.state.read_prefixes, request.app.state.write_prefixes)) is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, refusal)
    try:
        return jobs.submit(manifest, idempotency_key).view()
    except QueueFull as full:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, str(full)) from full


@v1.post(
    "/jobs/by-reference",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobView,
    responses=problems(403, 422, 429, 503),
    summary="Queue the batch that a manifest in S3 describes (what the Airflow launcher sends)",
)
async def submit_job_by_reference(
    reference: ManifestReference, request: Request, engine: ReadyEngine, jobs: Jobs
) -> JobView:
    uri = reference.manifest_uri
    readable = request.app.state.read_prefixes + request.app.state.write_prefixes
    if (refusal := uri_refusal("manifest", uri, readable)) is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, refusal)
    if (job := jobs.live(reference.idempotency_key)) is not None:
        return job.view()  # a launcher's retry: the batch is already at work
    try:
        manifest = Manifest.model_validate_json(await run_in_threadpool(engine.runner.storage.read_bytes, uri))
    except (StorageUnavailable, DocumentUnreachable) as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(error)) from error
    except DocumentError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, f"cannot use manifest {uri}: {error}") from error
    except ValidationError as error:  # its problems, never its content
        detail = f"cannot use manifest {uri}: {validation_problems(error)}"
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, detail) from error
    return await submit_job(manifest, request, engine, jobs, reference.idempotency_key)


def _job(job_id: str, jobs: Jobs) -> Job:
    if (job := jobs.get(job_id)) is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no job {job_id} (finished long ago, or the service restarted)"
        )
    return job


@v1.get(
    "/jobs/{job_id}",
    response_model=JobView,
    responses=problems(404),
    summary="A job's status, progress and report",
)
async def get_job(job: Annotated[Job, Depends(_job)]) -> JobView:
    return job.view()


@v1.delete(
    "/jobs/{job_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobView,
    responses=problems(404),
    summary="Cancel a job: a queued one ends now, a running one after the documents under way",
)
async def cancel_job(job: Annotated[Job, Depends(_job)], jobs: Jobs) -> JobView:
    jobs.cancel(job)
    return job.view()

