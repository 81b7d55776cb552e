"""The Documents view's FastAPI app, mounted by the api-server under ``/documents`` (see
``plugins/documents_plugin.py``).

Every route asks Airflow's auth manager who is calling (the UI's session cookie, or a bearer token) and
shows only the documents of the sources whose DAG runs the user may read (``ocr_pipeline.sources``: one
DAG per source); a user who may read none is refused. It reads only what the catalog names: the source
object and outputs of a catalogued document, through its source's connection (``aws_default``).
Reprocessing is not done here: the page triggers the DAG through Airflow's own REST API with the user's
session, so Airflow itself decides whether the user may.
"""

from __future__ import annotations

import functools
import json
import tempfile
from datetime import date
from pathlib import Path as FilePath
from typing import Annotated
from urllib.parse import quote

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import Depends, FastAPI, HTTPException, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, StreamingResponse

from ocr_pipeline import layout, sources
from ocr_pipeline.catalog.schema import OUTPUT_COLUMNS
from ocr_pipeline.catalog.store import Catalog
from ocr_pipeline.settings import PipelineSettings, ViewSettings
from ocr_pipeline.ui import queries
from ocr_pipeline.ui.page_facts import page_facts
from ocr_pipeline.ui.page_images import PageImages, PageUnavailable
from ocr_task.contract import DocumentStatus

MAX_INT = 2**31 - 1  # the catalog's integer columns: anything bigger is no row, and must not reach the driver
DocumentId = Annotated[int, Path(ge=1, le=MAX_INT)]
PageIndex = Annotated[int, Path(ge=0, le=MAX_INT)]
NOT_FOUND = {404: {"description": "No such document, page or output in the catalog"}}
STATIC = FilePath(__file__).parent / "static"
ASSETS = {"documents.js": "text/javascript", "documents.css": "text/css"}
OUTPUTS = OUTPUT_COLUMNS  # the catalog column of each file a document links to, and its media type


def _may(method: str, dag_id: str, user) -> bool:
    """Airflow's own check: ``method`` on the runs of ``dag_id``, for ``user``."""
    return get_auth_manager().is_authorized_dag(
        method=method, access_entity=DagAccessEntity.RUN, details=DagDetails(id=dag_id), user=user
    )


def _visible_sources(user: GetUserDep) -> tuple[sources.Source, ...]:
    """The sources whose runs the user of this request may read: what the view shows them."""
    visible = tuple(s for s in sources.deployed() if _may("GET", s.dag_id, user))
    if not visible:
        raise HTTPException(403, "you may read the runs of no document source's DAG")
    return visible


Visible = Annotated[tuple[sources.Source, ...], Depends(_visible_sources)]  # once per request


class SourceSettings:
    """Each source's settings (the environment the api-server runs with, and the sources file), built at most
    once in a request: a request's every step sees the same settings, and none builds them again."""

    def __init__(self):
        self._built: dict[str, PipelineSettings] = {}

    def __call__(self, dag_id: str | None = None) -> PipelineSettings:
        """The settings of ``dag_id``'s source (None: the default source's, which names the one catalog)."""
        source = sources.by_dag_id(dag_id)
        if source.dag_id not in self._built:
            self._built[source.dag_id] = source.settings()
        return self._built[source.dag_id]


Settings = Annotated[SourceSettings, Depends(SourceSettings)]  # one per request


def _hook(settings: SourceSettings, dag_id: str):
    return _hook_of(settings(dag_id).aws_conn_id)


@functools.cache
def _hook_of(aws_conn_id: str):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=aws_conn_id)


def _pages(settings: SourceSettings, dag_id: str) -> PageImages:
    view = ViewSettings()
    cache = view.cache_dir or FilePath(tempfile.gettempdir()) / "ocr-documents-view"
    return _page_images_of(settings(dag_id).aws_conn_id, cache, view.cache_mb, view.max_source_mb)


@functools.cache
def _page_images_of(aws_conn_id: str, cache: FilePath, megabytes: int, source_megabytes: int) -> PageImages:
    return PageImages(_hook_of(aws_conn_id), cache, megabytes * 2**20, source_megabytes * 2**20)


def _catalog(settings: SourceSettings):
    return Catalog(settings().catalog_url).engine  # one catalog, every source's


def _document(document_id: int, visible: tuple[sources.Source, ...], settings: SourceSettings) -> dict:
    found = queries.one_document(_catalog(settings), document_id)
    if found is None or found["dag_id"] not in {s.dag_id for s in visible}:
        raise HTTPException(404, f"no document {document_id} in the catalog")
    return found


def _reprocess_conf(found: dict, settings: SourceSettings) -> dict:
    """The conf that sends one document through its source's DAG again: only it, reprocessed, from the
    source prefix it was read under (the configured one, or else its own folder) so that its outputs keep
    their names."""
    source_uri = found["source_uri"]
    conf = {"document": source_uri, "reprocess": True}
    if not source_uri.startswith(settings(found["dag_id"]).source_uri):
        conf["source_uri"] = source_uri.rsplit("/", 1)[0] + "/"
    return conf


def _read_json(uri: str, settings: SourceSettings, dag_id: str) -> dict:
    return json.loads(_hook(settings, dag_id).read_key(uri))


def _filters(
    visible: Visible,
    source: str | None = None,
    status: DocumentStatus | None = None,
    engine: str | None = None,
    prefix: str | None = None,
    processed_from: date | None = None,
    processed_to: date | None = None,
    q: Annotated[str | None, Query(max_length=200, description="words of the recognised text")] = None,
) -> queries.DocumentFilter:
    """The list's filters, from the query string (the list and its totals take the same ones), within the
    sources the user may read (``source``: one of them, by name)."""
    dag_ids = tuple(s.dag_id for s in visible if source in (None, "", s.name))
    return queries.DocumentFilter(dag_ids, status, engine, prefix, processed_from, processed_to, q)


Filters = Annotated[queries.DocumentFilter, Depends(_filters)]


def create_app() -> FastAPI:
    app = FastAPI(title="Documents", dependencies=[Depends(_visible_sources)])

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
        settings: Settings,
        offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
        limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE_SIZE)] = 50,
    ) -> dict:
        total, items = queries.list_documents(_catalog(settings), where, offset, limit)
        return {"total": total, "offset": offset, "limit": limit, "items": items}

    @app.get("/api/summary")
    def summary(where: Filters, visible: Visible, settings: Settings) -> dict:
        catalog = _catalog(settings)
        return {
            **queries.totals(catalog, where),
            "pages_per_day": queries.pages_per_day(catalog, where),
            "engines": queries.engines_in_use(catalog),
            "statuses": list(DocumentStatus),
            "sources": [{"name": s.name, "dag_id": s.dag_id, "source_uri": settings(s.dag_id).source_uri} for s in visible],
        }

    @app.get("/api/documents/{document_id}", responses=NOT_FOUND)
    async def document(document_id: DocumentId, user: GetUserDep, visible: Visible, settings: Settings) -> dict:
        found = _document(document_id, visible, settings)
        result, result_error = None, None
        if found["json_uri"]:
            try:
                result = await run_in_threadpool(_read_json, found["json_uri"], settings, found["dag_id"])
            except Exception as error:  # noqa: BLE001 - shown to the user beside the catalog row
                result_error = f"cannot read {found['json_uri']}: {error}"
        return {
            "document": found,
            "pages": [{**page, "facts": page_facts(page)} for page in result["pages"]] if result else [],
            "result_error": result_error,
            "outputs": {kind: bool(found[column]) for kind, (column, _) in OUTPUTS.items()},
            "can_reprocess": _may("POST", found["dag_id"], user),
            "reprocess": {"dag_id": found["dag_id"], "conf": _reprocess_conf(found, settings)},
        }

    @app.get(
        "/api/documents/{document_id}/pages/{index}.png",
        responses={**NOT_FOUND, 409: {"description": "The source object changed or cannot be shown"}},
        response_class=FileResponse,
    )
    def page_image(document_id: DocumentId, index: PageIndex, visible: Visible, settings: Settings) -> FileResponse:
        found = _document(document_id, visible, settings)
        if not found["json_uri"]:
            raise HTTPException(404, "the document has no pages to show: it was not read")
        # the browser asks again each time (the ETag makes that cheap): after a reprocess the URL stays the same
        headers = {"Cache-Control": "private, no-cache"}
        result = found["processed_at"].isoformat()  # a reprocess is a new result, with a page image of its own
        images = _pages(settings, found["dag_id"])
        if cached := images.cached(found["source_uri"], found["etag"], result, index):
            return FileResponse(cached, media_type="image/png", headers=headers)
        pages = {p["index"]: p for p in _read_json(found["json_uri"], settings, found["dag_id"])["pages"]}
        if index not in pages:
            raise HTTPException(404, f"the document has no page {index + 1}")
        try:
            path = images.png(found["source_uri"], found["etag"], result, pages[index])
        except PageUnavailable as error:
            raise HTTPException(409, str(error)) from error
        return FileResponse(path, media_type="image/png", headers=headers)

    @app.get("/api/documents/{document_id}/outputs/{kind}", responses=NOT_FOUND, response_class=StreamingResponse)
    def output(document_id: DocumentId, kind: str, visible: Visible, settings: Settings) -> StreamingResponse:
        if kind not in OUTPUTS:
            raise HTTPException(404, f"no output {kind!r}; one of {', '.join(OUTPUTS)}")
        column, media_type = OUTPUTS[kind]
        found = _document(document_id, visible, settings)
        uri = found[column]
        if not uri:
            raise HTTPException(404, f"the document has no {kind} output")
        bucket, key = layout.split(uri)
        body = _hook(settings, found["dag_id"]).get_key(key, bucket_name=bucket).get()["Body"]
        name = quote(key.rsplit("/", 1)[-1])
        return StreamingResponse(
            body.iter_chunks(), media_type=media_type, headers={"Content-Disposition": f"inline; filename*=UTF-8''{name}"}
        )

    return app
