"""The OCR step as a long-running HTTP service that keeps its engine loaded between requests.

    python -m ocr_task serve --host 0.0.0.0 --port 8081

* ``GET /health``: liveness, the process answers;
* ``GET /ready``: readiness, the engine is loaded and can run (503 with the reason otherwise);
* ``POST /v1/ocr``: a document upload (multipart field ``file``), answered with the result itself;
  or a JSON batch naming S3 sources and an output prefix (the manifest's shape), answered with
  the report after the same outputs as the CLI's are written.

Requests beyond ``OCR_SERVICE_CONCURRENCY`` wait in a queue of
``OCR_SERVICE_QUEUE_DEPTH``; beyond that the answer is 429. Bodies over
``OCR_SERVICE_MAX_UPLOAD_MB`` get 413 before they are read. Errors are JSON
``{"detail": ...}``, never a stack trace.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.datastructures import UploadFile as StarletteUpload

from ocr_task.config import OcrSettings
from ocr_task.contract import Manifest, Report, ReportEntry
from ocr_task.errors import BatchError
from ocr_task.naming import output_name
from ocr_task.runner import BatchItem, BatchRunner
from ocr_task.storage import is_s3

log = logging.getLogger("ocr_task.server")
OCR_PATH = "/v1/ocr"


class ServiceSettings(BaseSettings):
    """Environment: ``OCR_SERVICE_*``."""

    model_config = SettingsConfigDict(env_prefix="OCR_SERVICE_", extra="ignore")

    concurrency: int = Field(1, ge=1, description="Batches recognised at once (each uses every worker)")
    queue_depth: int = Field(8, ge=0, description="Requests that may wait for their turn; beyond: 429")
    max_upload_mb: int = Field(100, ge=1, description="Largest request body; beyond: 413")


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    ready: bool
    engine: str
    detail: str | None = None


class Problem(BaseModel):
    detail: str


class UploadResult(BaseModel):
    """The report entry of the uploaded document, and what was read from it."""

    entry: ReportEntry
    text: str
    markdown: str
    document: dict[str, Any] = Field(description="The JSON output: document → pages → blocks")


class State:
    """What the service holds between requests: the runner with its engines, and how loading went."""

    def __init__(self, settings: OcrSettings, service: ServiceSettings):
        self.service = service
        self.runner = BatchRunner(settings)
        self.loaded = threading.Event()
        self.load_error: str | None = None
        self.admitted = 0
        self.turns = asyncio.Semaphore(service.concurrency)

    def load(self) -> None:
        try:
            self.runner.start()
        except BatchError as error:
            self.load_error = str(error)
            log.error("engine not ready: %s", error)
        except Exception as error:  # noqa: BLE001 - reported by /ready, not a crash
            self.load_error = f"{type(error).__name__}: {error}"
            log.exception("engine failed to load")
        finally:
            self.loaded.set()

    @property
    def ready(self) -> tuple[bool, str | None]:
        if not self.loaded.is_set():
            return False, "the engine is loading"
        return self.load_error is None, self.load_error


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail})


class Admission:
    """ASGI middleware in front of POST /v1/ocr: 413 for a body over the limit, 429 when the queue is full.

    Both are answered before the body is read.
    """

    def __init__(self, app, state_of):
        self.app, self.state_of = app, state_of

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != OCR_PATH or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        state: State = self.state_of()
        limit = state.service.max_upload_mb * 1024 * 1024
        too_large = _problem(413, f"request body over {state.service.max_upload_mb} MB")
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and int(length) > limit:
            return await too_large(scope, receive, send)
        if state.admitted >= state.service.concurrency + state.service.queue_depth:
            return await _problem(429, "busy: the queue is full, retry later")(scope, receive, send)
        state.admitted += 1
        received = 0

        async def counted_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counted_receive, send)
        except _BodyTooLarge:
            await too_large(scope, receive, send)
        finally:
            state.admitted -= 1


class _BodyTooLarge(Exception):
    pass


def _status_for(error: str) -> int:
    return 415 if error.startswith("unsupported document type") else 422


def create_app(settings: OcrSettings | None = None, service: ServiceSettings | None = None) -> FastAPI:
    settings = settings or OcrSettings()
    service = service or ServiceSettings()
    holder: dict[str, State] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state = State(settings, service)
        holder["state"] = state
        threading.Thread(target=state.load, name="engine-load", daemon=True).start()
        yield
        await run_in_threadpool(state.runner.close)

    app = FastAPI(
        title="OCR service",
        version="1.0",
        summary="Scanned documents to text, Markdown and JSON, with the engine kept loaded",
        lifespan=lifespan,
    )
    app.add_middleware(Admission, state_of=lambda: holder["state"])

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return _problem(500, "internal error; see the service log")

    @app.get("/health", response_model=Health, summary="Liveness: the process answers")
    async def health() -> Health:
        return Health(status="ok")

    @app.get(
        "/ready",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "The engine is loading or cannot load"}},
        summary="Readiness: the engine is loaded and can run",
    )
    async def ready():
        is_ready, detail = holder["state"].ready
        body = Readiness(ready=is_ready, engine=settings.engine, detail=detail)
        return body if is_ready else JSONResponse(status_code=503, content=body.model_dump())

    responses = {
        413: {"model": Problem, "description": "Request body over the size limit"},
        415: {"model": Problem, "description": "Unsupported document type"},
        422: {"model": Problem, "description": "Bad document or bad request"},
        429: {"model": Problem, "description": "Queue full"},
        503: {"model": Problem, "description": "Engine not ready, or storage unreachable"},
    }

    async def _run_batch(items: list[BatchItem], output: str, report: str | None) -> Report:
        state = holder["state"]
        is_ready, detail = state.ready
        if not is_ready:
            raise _Refused(503, f"engine not ready: {detail}")
        async with state.turns:
            try:
                return await run_in_threadpool(state.runner.run, items, output, report)
            except BatchError as error:
                raise _Refused(503, str(error)) from error

    @app.exception_handler(_Refused)
    async def _refused(request: Request, error: _Refused):
        return _problem(error.status, error.detail)

    @app.post(
        OCR_PATH,
        responses={
            200: {
                "description": "UploadResult for an upload; the Report for an S3 batch",
                "content": {
                    "application/json": {"schema": {"oneOf": [_ref("UploadResult"), _ref("Report")]}}
                },
            },
            **responses,
        },
        summary="OCR an uploaded document (multipart 'file') or a batch of S3 sources (JSON)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {"file": {"type": "string", "format": "binary"}},
                            "required": ["file"],
                        }
                    },
                    "application/json": {"schema": _ref("Manifest")},
                },
            }
        },
    )
    async def ocr(request: Request):
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            form = await request.form()
            upload = form.get("file")
            if not isinstance(upload, StarletteUpload):
                return _problem(422, "multipart field 'file' is missing")
            return await _ocr_upload(upload)
        if content_type.startswith("application/json"):
            try:
                manifest = Manifest.model_validate_json(await request.body())
            except ValueError as error:
                return _problem(422, f"invalid batch request: {error}")
            return await _ocr_s3(manifest)
        return _problem(415, "send a multipart upload (field 'file') or a JSON batch")

    async def _ocr_upload(upload) -> JSONResponse:
        with tempfile.TemporaryDirectory(prefix="ocr-upload-") as scratch:
            name = output_name(Path(upload.filename or "upload").name)
            path = Path(scratch) / "in" / name
            path.parent.mkdir()
            with path.open("wb") as out:
                while chunk := await upload.read(1 << 20):
                    out.write(chunk)
            out_dir = Path(scratch) / "out"
            report = await _run_batch([BatchItem(str(path), name=name)], str(out_dir), None)
            entry = report.documents[0]
            if entry.status != "succeeded":
                return _problem(_status_for(entry.error or ""), entry.error or "document failed")
            result = UploadResult(
                # the outputs were in a scratch folder that is gone with this response
                entry=entry.model_copy(update={"source": upload.filename or name, "outputs": None}),
                text=Path(entry.outputs.text).read_text(),
                markdown=Path(entry.outputs.markdown).read_text(),
                document=json.loads(Path(entry.outputs.json_).read_text()),
            )
            return JSONResponse(content=result.model_dump(mode="json", by_alias=True))

    async def _ocr_s3(manifest: Manifest) -> JSONResponse:
        if manifest.engine and manifest.engine != settings.engine:
            return _problem(422, f"this service runs the {settings.engine} engine, not {manifest.engine}")
        if not manifest.output or not is_s3(manifest.output):
            return _problem(422, "an s3:// output prefix is required")
        local = [d.source for d in manifest.documents if not is_s3(d.source)]
        if local:
            return _problem(422, f"sources must be s3:// URIs: {', '.join(local[:3])}")
        items = BatchItem.all_in(manifest)
        report = await _run_batch(items, manifest.output, manifest.report)
        return JSONResponse(content=json.loads(report.to_json()))

    def openapi() -> dict:
        """The generated schema, plus the models the one endpoint's two shapes refer to."""
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (Manifest, UploadResult, Report):
                found = model.model_json_schema(ref_template="#/components/schemas/{model}", by_alias=True)
                components.update(found.pop("$defs", {}))
                components[model.__name__] = found
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
    return app


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


class _Refused(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


def serve(host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(create_app(), host=host, port=port, log_level="info")
