"""The batch: documents in, outputs and ``report.json`` out.

Documents are opened one after another; their pages are rendered one at a
time and handed to the worker processes with a bounded number in flight,
so every core stays busy across document boundaries and memory stays
bounded however long a PDF is. A document that fails is reported with its
error and the batch goes on: for good when the fault is its own (bad input),
``retryable`` when it is not (access to its key, throttling, the engine).
A :class:`BatchError` (storage unreachable, engine cannot load) stops the
batch, and so do retryable failures that hit a large share of its documents
(``OCR_BATCH_FAILURE_SHARE``): an outage is the batch's failure, retried by
the launcher, never a row of failed documents.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ocr_task import result as render
from ocr_task.config import OcrSettings, available_cores
from ocr_task.contract import (
    REPORT_NAME,
    DocumentStatus,
    ManifestDocument,
    Outputs,
    Report,
    ReportEntry,
    ReportSummary,
)
from ocr_task.documents import MEDIA_TYPES, ImagePage, check_size, open_document
from ocr_task.engines import AUTO, PADDLE_VL
from ocr_task.errors import BatchCancelled, BatchError, DocumentError, DocumentUnreachable
from ocr_task.naming import unique_names
from ocr_task.progress import Progress
from ocr_task.result import DocumentResult, PageResult
from ocr_task.searchable_pdf import searchable_pdf
from ocr_task.storage import Storage, join, key_of
from ocr_task.workers import PageFailed, process_pages, start_workers, warm_up

log = logging.getLogger("ocr_task")


@dataclass
class _Document:
    """One document on its way through the batch."""

    item: ManifestDocument
    name: str
    started: float = 0.0
    media_type: str | None = None
    pages: list[PageResult] = field(default_factory=list)
    pending: list[Future] = field(default_factory=list)
    failure: DocumentError | DocumentUnreachable | None = None  # why it could not be opened or read
    all_submitted: bool = False
    source: Source | None = None  # the document's file, kept until the document is finished (its PDF)
    workdir: Path | None = None  # where it was downloaded (a local source is read where it is): removed after

    @property
    def finished(self) -> bool:
        return self.all_submitted and all(f.done() for f in self.pending)


# What a worker that sends pages to a VLM server imports (about 2 s): once, before the workers start.
VL_CLIENT_MODULES = ("paddleocr", "openai", "tesserocr", "ocr_task.engines.paddle_vl")


def _uses_gpu_engine(settings: OcrSettings) -> bool:
    return settings.engine == PADDLE_VL or (settings.engine == AUTO and settings.vl.enabled)


class BatchRunner:
    """Runs batches with one configuration.

    Workers start with each batch, unless :meth:`start` started them to be
    kept, engines loaded, across batches (the HTTP service does).
    """

    def __init__(self, settings: OcrSettings, storage: Storage | None = None):
        self.settings = settings
        self.storage = storage or Storage()
        self._kept: Executor | None = None
        gpu = _uses_gpu_engine(settings)
        self.preload: tuple[str, ...] = ()
        if gpu and settings.vl.uses_server:
            # Pages to a VLM server: one page per request from each of OCR_VL_REC_MAX_CONCURRENCY worker
            # processes, that many in flight.
            self.workers, self.chunk = settings.vl.in_flight(), 1
            self.preload = VL_CLIENT_MODULES
        elif gpu:  # the GPU engine in this process: one pipeline, pages in batches
            self.workers, self.chunk = 1, settings.vl.batch_pages
        else:  # CPU engines: pages spread over processes
            self.workers, self.chunk = settings.worker_count(), 1
        self.threads = max(1, available_cores() // self.workers)

    def start(self) -> None:
        """Start the workers and load their engines now; BatchError if an engine cannot load."""
        self._kept = start_workers(self.settings, self.workers, self.threads, self.preload)
        warm_up(self._kept, self.workers)

    def close(self) -> None:
        if self._kept is not None:
            self._kept.shutdown(wait=True, cancel_futures=True)
            self._kept = None

    def run(
        self,
        items: list[ManifestDocument],
        output: str,
        report_uri: str | None = None,
        *,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> Report:
        """The batch's outputs under ``output`` and its report (default ``output/report.json``).

        ``progress`` is updated as pages and documents finish (the service shows it); once ``cancel`` is
        set no further document starts and :class:`BatchCancelled` is raised, with no report written.
        """
        started_at, started = datetime.now(UTC), time.perf_counter()
        entries = self._process(items, StorageOutputs(self.storage, output, self.settings), progress, cancel)
        check_outage(entries, self.settings.batch_failure_share)
        report = Report(
            output=output,
            engine=self.settings.engine,
            started_at=started_at.isoformat(),
            finished_at=datetime.now(UTC).isoformat(),
            seconds=round(time.perf_counter() - started, 3),
            summary=ReportSummary.of(entries),
            documents=entries,
        )
        report_uri = report_uri or join(output, REPORT_NAME)
        self.storage.write_bytes(report_uri, report.to_json().encode(), "application/json")
        return report

    def read(
        self, item: ManifestDocument, with_pdf: bool = False
    ) -> tuple[ReportEntry, DocumentResult | None, bytes | None]:
        """One document recognised and kept in memory (no output written): its entry, its result and, when
        asked for, its searchable PDF."""
        kept = KeptOutputs(self.settings if with_pdf else self.settings.model_copy(update={"searchable_pdf": False}))
        [entry] = self._process([item], kept, None, None)
        return entry, kept.documents.get(entry.name), kept.pdfs.get(entry.name)

    def _process(self, items, outputs, progress, cancel) -> list[ReportEntry]:
        names = unique_names([item.name or key_of(item.source) for item in items])
        jobs = [_Document(item, name) for item, name in zip(items, names, strict=True)]
        progress = progress or Progress(len(jobs), self.settings.progress_seconds)
        executor = self._kept or start_workers(self.settings, self.workers, self.threads, self.preload)
        try:
            return _Run(self, jobs, outputs, executor, progress, cancel).run()
        finally:
            if executor is not self._kept:
                executor.shutdown(wait=True, cancel_futures=True)


def check_outage(entries: list[ReportEntry], share: float) -> None:
    """Raise BatchError when causes that are not the documents' own failed more than ``share`` of them.

    One key the role may not read fails alone (retryable) and the rest of its batch lands; S3 throttling
    every request, a VLM server answering 503, an engine that raises on every page: the batch fails, no
    report is written, and the launcher retries it. The causes are counted together: an outage can change
    its face within a batch (SlowDown, then AccessDenied while a policy is rewritten).
    """
    causes = Counter(e.cause for e in entries if e.retryable)
    count = sum(causes.values())
    if count and count > share * len(entries):
        named = ", ".join(f"{cause} ({n})" for cause, n in causes.most_common())
        example = next(e.error for e in entries if e.retryable)
        raise BatchError(
            f"{count} of {len(entries)} documents failed for reasons that are not theirs ({named}): an outage, "
            f"the batch is retried. First: {example}"
        )


@dataclass
class Source:
    """A document's file as downloaded, and its kind (``documents.detect_kind``)."""

    path: Path
    kind: str


def pdf_of(document: DocumentResult, source: Source | None, settings: OcrSettings) -> bytes | None:
    """The searchable PDF (``searchable_pdf``), or None when it is turned off or cannot be made: the text,
    Markdown and JSON still land, and the log says why."""
    if not settings.searchable_pdf or source is None:
        return None
    try:
        return searchable_pdf(source.path, source.kind, document)
    except Exception as error:  # noqa: BLE001 - the PDF is one output of four: the others still land
        log.warning("no searchable PDF for %s: %s: %s", document.source, type(error).__name__, error)
        return None


class StorageOutputs:
    """Writes a document's text, Markdown, JSON and searchable PDF under an output folder or S3 prefix."""

    def __init__(self, storage: Storage, output: str, settings: OcrSettings):
        self.storage, self.output, self.settings = storage, output, settings

    def write(self, document: DocumentResult, source: Source | None = None) -> Outputs:
        outputs = Outputs(
            text=join(self.output, document.name + ".txt"),
            markdown=join(self.output, document.name + ".md"),
            json=join(self.output, document.name + ".json"),
        )
        write = self.storage.write_bytes
        write(outputs.text, render.to_text(document).encode(), "text/plain; charset=utf-8")
        write(outputs.markdown, render.to_markdown(document).encode(), "text/markdown; charset=utf-8")
        write(outputs.json_, render.to_json(document).encode(), "application/json")
        if (pdf := pdf_of(document, source, self.settings)) is not None:
            outputs.pdf = join(self.output, document.name + ".pdf")
            write(outputs.pdf, pdf, "application/pdf")
        return outputs


class KeptOutputs:
    """Keeps each document's result (and its searchable PDF, unless ``settings`` turn it off) in memory
    instead of writing it (the service's uploads)."""

    def __init__(self, settings: OcrSettings):
        self.settings = settings
        self.documents: dict[str, DocumentResult] = {}
        self.pdfs: dict[str, bytes] = {}

    def write(self, document: DocumentResult, source: Source | None = None) -> None:
        self.documents[document.name] = document
        if (pdf := pdf_of(document, source, self.settings)) is not None:
            self.pdfs[document.name] = pdf


class _Run:
    """One batch in progress: documents submitted in order, finished as their pages come back."""

    def __init__(self, runner: BatchRunner, jobs: list[_Document], outputs, executor: Executor, progress, cancel):
        self.runner, self.settings, self.storage = runner, runner.settings, runner.storage
        self.jobs, self.outputs, self.executor = jobs, outputs, executor
        self.entries: dict[int, ReportEntry] = {}
        self.progress = progress
        self.cancel = cancel or threading.Event()
        self.max_in_flight = 2 * runner.workers

    def run(self) -> list[ReportEntry]:
        # The downloads live in ``scratch`` until their documents are finished: the last ones finish after
        # the last is submitted, and their searchable PDFs are made from the downloaded source.
        with tempfile.TemporaryDirectory(prefix="ocr-task-") as scratch:
            for job in self.jobs:
                if self.cancel.is_set():
                    self._abandon()
                self._submit_document(job, Path(scratch))
                self._finish_ready()
            wait([f for job in self.jobs for f in job.pending])
            self._finish_ready()
        self.progress.log(final=True)
        return [self.entries[i] for i in range(len(self.jobs))]

    def _submit_document(self, job: _Document, scratch: Path) -> None:
        item = job.item
        job.started = time.perf_counter()
        try:
            check_size(self.storage.size(item.source), self.settings)  # before downloading it
            job.workdir = Path(tempfile.mkdtemp(dir=scratch))
            path = self.storage.fetch(item.source, job.workdir, item.etag)
            document = open_document(path, key_of(item.source), self.settings)
            job.media_type, job.source = MEDIA_TYPES[document.kind], Source(path, document.kind)
            try:
                self._submit_pages(job, document.pages())
            finally:
                document.close()
        except (DocumentError, DocumentUnreachable) as error:
            job.failure = error
            for future in job.pending:
                future.cancel()
        job.all_submitted = True

    def _submit_pages(self, job: _Document, pages) -> None:
        chunk: list[ImagePage] = []
        for page in pages:
            chunk.append(page)
            if len(chunk) >= self.runner.chunk:
                self._submit_chunk(job, chunk)
                chunk = []
        if chunk:
            self._submit_chunk(job, chunk)

    def _abandon(self):
        pending = [f for job in self.jobs for f in job.pending]
        for future in pending:
            future.cancel()
        wait(pending)
        raise BatchCancelled(f"cancelled after {len(self.entries)} of {len(self.jobs)} documents")

    def _in_flight(self) -> list[Future]:
        return [f for job in self.jobs for f in job.pending if not f.done()]

    def _submit_chunk(self, job: _Document, chunk: list[ImagePage]) -> None:
        while len(running := self._in_flight()) >= self.max_in_flight:
            wait(running, return_when=FIRST_COMPLETED)
            self._finish_ready()
        future = self.executor.submit(process_pages, chunk)
        pages = len(chunk)
        future.add_done_callback(lambda f: f.cancelled() or f.exception() or self.progress.page_done(pages))
        job.pending.append(future)

    def _finish_ready(self) -> None:
        for position, job in enumerate(self.jobs):
            if position not in self.entries and job.finished:
                self.entries[position] = self._finish(job)
                job.pending.clear()  # release the page results
                self.progress.document_done(failed=self.entries[position].status == DocumentStatus.failed)

    def _collect_pages(self, job: _Document) -> list[PageResult]:
        pages = list(job.pages)
        for future in job.pending:
            error = future.exception()
            if isinstance(error, BatchError):
                raise error
            if isinstance(error, BrokenProcessPool):
                raise BatchError(f"an OCR worker process died (out of memory?): {error}") from error
            if isinstance(error, (DocumentError, DocumentUnreachable)):
                raise error
            if error is not None:
                kind = error.kind if isinstance(error, PageFailed) else type(error).__name__
                detail = str(error) if isinstance(error, PageFailed) else f"{kind}: {error}"
                raise DocumentUnreachable(f"recognition failed: {detail}", f"engine {kind}")
            pages.extend(future.result())
        return sorted(pages, key=lambda p: p.index)

    def _finish(self, job: _Document) -> ReportEntry:
        try:
            return self._entry(job)
        finally:
            if job.workdir is not None:
                shutil.rmtree(job.workdir, ignore_errors=True)

    def _entry(self, job: _Document) -> ReportEntry:
        item = job.item
        entry = dict(source=item.source, name=job.name, etag=item.etag, media_type=job.media_type)
        try:
            if job.failure is not None:
                raise job.failure
            pages = self._collect_pages(job)
        except (DocumentError, DocumentUnreachable) as error:
            retryable = isinstance(error, DocumentUnreachable)
            log.warning("failed%s: %s: %s", " (retryable)" if retryable else "", item.source, error)
            seconds = round(time.perf_counter() - job.started, 3)
            if retryable:
                entry["cause"] = error.cause
            return ReportEntry(**entry, status=DocumentStatus.failed, error=str(error), retryable=retryable, seconds=seconds)
        seconds = round(time.perf_counter() - job.started, 3)
        document = DocumentResult(item.source, job.name, job.media_type, item.etag, pages, {"total": seconds})
        outputs = self.outputs.write(document, job.source)
        confidence = document.mean_confidence
        return ReportEntry(
            **entry,
            status=DocumentStatus.succeeded,
            pages=len(pages),
            outputs=outputs,
            seconds=seconds,
            engines=[f"{e.name} {e.version}" for e in document.engines()],
            characters=document.characters,
            mean_confidence=round(confidence, 4) if confidence is not None else None,
            low_confidence=confidence is not None and confidence < self.settings.min_confidence,
        )
