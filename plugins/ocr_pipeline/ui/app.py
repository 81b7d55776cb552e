"""The Documents view's FastAPI app, mounted by the api-server under ``/documents`` (see
``plugins/documents_plugin.py``).

Every route asks Airflow's auth manager who is calling (the UI's session cookie, or a bearer token) and
needs read access to ``document_ingest``'s runs. It reads only what the catalog names: the source object
and outputs of a catalogued document, through the ``aws_default`` connection (``OCR_AWS_CONN_ID``).
Reprocessing is not done here: the page triggers the DAG through Airflow's own REST API with the user's
session, so Airflow itself decides whether the user may.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from datetime import date
from pathlib import Path as FilePath
from typing import Annotated
from urllib.parse import quote

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from fastapi import Depends, FastAPI, HTTPException, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, StreamingResponse

from ocr_pipeline import layout
from ocr_pipeline.catalog.store import Catalog
from ocr_pipeline.settings import PipelineSettings
from ocr_pipeline.ui import queries
from ocr_pipeline.ui.page_images import PageImages, PageUnavailable

DAG_ID = "document_ingest"
MAX_INT = 2**31 - 1  # the catalog's integer columns: anything bigger is no row, and must not reach the driver
DocumentId = Annotated[int, Path(ge=1, le=MAX_INT)]
PageIndex = Annotated[int, Path(ge=0, le=MAX_INT)]
NOT_FOUND = {404: {"description": "No such document, page or output in the catalog"}}
STATIC = FilePath(__file__).parent / "static"
ASSETS = {"documents.js": "text/javascript", "documents.css": "text/css"}
OUTPUTS = {  # the catalog column of each output a document links to, and its media type
    "text": ("text_uri", "text/plain; charset=utf-8"),
    "markdown": ("markdown_uri", "text/markdown; charset=utf-8"),
    "json": ("json_uri", "application/json"),
    "quarantine": ("quarantine_uri", "application/octet-stream"),
}


def _require(method: str):
    """Airflow's own check: ``method`` on ``document_ingest``'s runs, for the user of this request."""
    return Depends(requires_access_dag(method, DagAccessEntity.RUN, DAG_ID))


def _may_trigger(user) -> bool:
    return get_auth_manager().is_authorized_dag(
        method="POST", access_entity=DagAccessEntity.RUN, details=DagDetails(id=DAG_ID), user=user
    )


def _settings() -> PipelineSettings:
    return PipelineSettings.build()  # the deployment's: the environment the api-server runs with


def _hook():
    return _hook_of(_settings().aws_conn_id)


@functools.cache
def _hook_of(aws_conn_id: str):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=aws_conn_id)


def _pages() -> PageImages:
    cache = FilePath(os.environ.get("OCR_VIEW_CACHE_DIR") or FilePath(tempfile.gettempdir()) / "ocr-documents-view")
    megabytes = int(os.environ.get("OCR_VIEW_CACHE_MB", "512"))
    source_megabytes = int(os.environ.get("OCR_VIEW_MAX_SOURCE_MB", "200"))
    return _page_images_of(_settings().aws_conn_id, cache, megabytes, source_megabytes)


@functools.cache
def _page_images_of(aws_conn_id: str, cache: FilePath, megabytes: int, source_megabytes: int) -> PageImages:
    return PageImages(_hook_of(aws_conn_id), cache, megabytes * 2**20, source_megabytes * 2**20)


def _catalog():
    return Catalog(_settings().catalog_url).engine


def _document(document_id: int) -> dict:
    found = queries.one_document(_catalog(), document_id)
    if found is None:
        raise HTTPException(404, f"no document {document_id} in the catalog")
    return found


def _reprocess_conf(source_uri: str) -> dict:
    """The conf that sends one document through again: only it, reprocessed, from the source prefix it was
    read under (the configured one, or else its own folder) so that its outputs keep their names."""
    conf = {"document": source_uri, "reprocess": True}
    if not source_uri.startswith(_settings().source_uri):
        conf["source_uri"] = source_uri.rsplit("/", 1)[0] + "/"
    return conf


def _read_json(uri: str) -> dict:
    return json.loads(_hook().read_key(uri))


def _filters(
    status: str | None = None,
    engine: str | None = None,
    prefix: str | None = None,
    processed_from: date | None = None,
    processed_to: date | None = None,
    q: Annotated[str | None, Query(max_length=200, description="words of the recognised text")] = None,
) -> queries.DocumentFilter:
    """The list's filters, from the query string (the list and its totals take the same ones)."""
    return queries.DocumentFilter(status, engine, prefix, processed_from, processed_to, q)


Filters = Annotated[queries.DocumentFilter, Depends(_filters)]


def create_app() -> FastAPI:
    app = FastAPI(title="Documents", dependencies=[_require("GET")])

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/assets/{name}", include_in_schema=False)
    def asset(name: str) -> FileResponse:
        if name not in ASSETS:
            raise HTTPException(404, "no such asset")
        return FileResponse(STATIC / name, media_type=ASSETS[name])

    @app.get("/api/documents")
    def list_documents(
        where: Filters,
        offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
        limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE_SIZE)] = 50,
    ) -> dict:
        total, items = queries.list_documents(_catalog(), where, offset, limit)
        return {"total": total, "offset": offset, "limit": limit, "items": items}

    @app.get("/api/summary")
    def summary(where: Filters) -> dict:
        return {
            **queries.totals(_catalog(), where),
            "pages_per_day": queries.pages_per_day(_catalog(), where),
            "engines": queries.engines_in_use(_catalog()),
        }

    @app.get("/api/documents/{document_id}", responses=NOT_FOUND)
    async def document(document_id: DocumentId, user: GetUserDep) -> dict:
        found = _document(document_id)
        result, result_error = None, None
        if found["json_uri"]:
            try:
                result = await run_in_threadpool(_read_json, found["json_uri"])
            except Exception as error:  # noqa: BLE001 - shown to the user beside the catalog row
                result_error = f"cannot read {found['json_uri']}: {error}"
        return {
            "document": found,
            "pages": result["pages"] if result else [],
            "result_error": result_error,
            "outputs": {kind: bool(found[column]) for kind, (column, _) in OUTPUTS.items()},
            "can_reprocess": _may_trigger(user),
            "reprocess": {"dag_id": DAG_ID, "conf": _reprocess_conf(found["source_uri"])},
        }

    @app.get(
        "/api/documents/{document_id}/pages/{index}.png",
        responses={**NOT_FOUND, 409: {"description": "The source object changed or cannot be shown"}},
        response_class=FileResponse,
    )
    def page_image(document_id: DocumentId, index: PageIndex) -> FileResponse:
        found = _document(document_id)
        if not found["json_uri"]:
            raise HTTPException(404, "the document has no pages to show: it was not read")
        # the browser asks again each time (the ETag makes that cheap): after a reprocess the URL stays the same
        headers = {"Cache-Control": "private, no-cache"}
        result = found["processed_at"].isoformat()  # a reprocess is a new result, with a page image of its own
        if cached := _pages().cached(found["source_uri"], found["etag"], result, index):
            return FileResponse(cached, media_type="image/png", headers=headers)
        pages = {p["index"]: p for p in _read_json(found["json_uri"])["pages"]}
        if index not in pages:
            raise HTTPException(404, f"the document has no page {index + 1}")
        try:
            path = _pages().png(found["source_uri"], found["etag"], result, pages[index])
        except PageUnavailable as error:
            raise HTTPException(409, str(error)) from error
        return FileResponse(path, media_type="image/png", headers=headers)

    @app.get("/api/documents/{document_id}/outputs/{kind}", responses=NOT_FOUND, response_class=StreamingResponse)
    def output(document_id: DocumentId, kind: str) -> StreamingResponse:
        if kind not in OUTPUTS:
            raise HTTPException(404, f"no output {kind!r}; one of {', '.join(OUTPUTS)}")
        column, media_type = OUTPUTS[kind]
        uri = _document(document_id)[column]
        if not uri:
            raise HTTPException(404, f"the document has no {kind} output")
        bucket, key = layout.split(uri)
        body = _hook().get_key(key, bucket_name=bucket).get()["Body"]
        name = quote(key.rsplit("/", 1)[-1])
        return StreamingResponse(
            body.iter_chunks(), media_type=media_type, headers={"Content-Disposition": f"inline; filename*=UTF-8''{name}"}
        )

    return app
