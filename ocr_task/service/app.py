"""The FastAPI application, its lifespan, and how it is served."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ocr_task.config import OcrSettings
from ocr_task.service.admission import UploadAdmission
from ocr_task.service.engine import LoadedRunner
from ocr_task.service.jobs import JobBoard
from ocr_task.service.models import validation_problems
from ocr_task.service.routes import public, v1
from ocr_task.service.settings import ServiceSettings

log = logging.getLogger("ocr_task.service")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def create_app(settings: OcrSettings | None = None, service: ServiceSettings | None = None) -> FastAPI:
    settings = settings or OcrSettings()
    service = service or ServiceSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine = LoadedRunner(settings, service.concurrency, service.queue_depth)
        app.state.engine = engine
        app.state.jobs = JobBoard(engine, service.finished_jobs_kept)
        app.state.token = service.bearer_token()
        app.state.read_prefixes, app.state.write_prefixes = service.read_prefixes, service.write_prefixes
        if not service.read_prefixes or not service.write_prefixes:
            log.warning("OCR_SERVICE_READ_PREFIXES or _WRITE_PREFIXES is empty: every job will be refused (403)")
        engine.start_loading()
        yield
        await app.state.jobs.close()
        await run_in_threadpool(engine.runner.close)

    app = FastAPI(
        title="OCR service",
        version="2.0",
        summary="Scanned documents to text, Markdown and JSON, with the engine kept loaded",
        lifespan=lifespan,
    )
    app.add_middleware(UploadAdmission, max_bytes=service.max_upload_mb * 1024 * 1024)
    app.include_router(public)
    app.include_router(v1)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError):
        """One sentence per problem, in the same ``{"detail": str}`` shape as every other error."""
        return JSONResponse(status_code=422, content={"detail": f"invalid request: {validation_problems(error)}"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return JSONResponse(status_code=500, content={"detail": "internal error; see the service log"})

    return app


def serve(host: str, port: int) -> None:
    """Serve on ``host:port``; without a token, on loopback only, whatever ``host`` says."""
    import uvicorn

    service = ServiceSettings()
    if service.bearer_token() is None:
        if host not in LOOPBACK:
            log.warning("OCR_SERVICE_TOKEN is not set: listening on 127.0.0.1 only, not on %s", host)
            host = "127.0.0.1"
        else:
            log.warning("OCR_SERVICE_TOKEN is not set: no authentication, loopback only")
    uvicorn.run(create_app(service=service), host=host, port=port, log_level="info")
