"""Workers for OCR pages: one :class:`PagePipeline` (and its engines) per worker.

Pages travel to the workers as arrays and come back as results; each worker
loads its engines once and keeps them for the batch. With one worker the
pages run in this process (no process start, and the GPU engine stays in the
process that owns the GPU). Where the work is waiting on a server (the VLM
on a vLLM server), the workers are threads of this process instead, each with
its own pipeline (a pipeline is not thread-safe): many pages in flight for
little CPU and memory.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor

from ocr_task.config import OcrSettings
from ocr_task.documents import ImagePage
from ocr_task.errors import BatchError
from ocr_task.pipeline import PagePipeline
from ocr_task.result import PageResult

_pipeline: PagePipeline | None = None
_startup_error: BatchError | None = None
_thread = threading.local()  # a worker thread's own pipeline and load error (threaded workers)


def _start_thread(settings_json: str, threads: int) -> None:
    """Start a worker thread: its own pipeline, engines loaded (or the load error kept)."""
    _thread.startup_error = None
    _thread.pipeline = PagePipeline(OcrSettings.model_validate_json(settings_json), threads)
    try:
        _thread.pipeline.preload()
    except BatchError as error:
        _thread.startup_error = error


def _start(settings_json: str, threads: int) -> None:
    """Start a worker: build its pipeline and load the engines every page will need.

    A load failure is kept and raised by the worker's first job, so that it
    reaches the batch as the BatchError it is (a failing initializer would
    only break the pool).
    """
    global _pipeline, _startup_error
    _startup_error = None
    _pipeline = PagePipeline(OcrSettings.model_validate_json(settings_json), threads)
    try:
        _pipeline.preload()
    except BatchError as error:
        _startup_error = error


def process_pages(pages: list[ImagePage]) -> list[PageResult]:
    _check_started()
    pipeline = getattr(_thread, "pipeline", None) or _pipeline
    assert pipeline is not None, "worker not started"
    return pipeline.process(pages)


def _check_started() -> None:
    error = getattr(_thread, "startup_error", None) or _startup_error
    if error is not None:
        raise error


def warm_up(executor: Executor, workers: int) -> None:
    """Make every worker start (and load its engines); raise the first load error."""
    for future in [executor.submit(_check_started) for _ in range(workers)]:
        future.result()


class InlineExecutor(Executor):
    """Runs each job at once in this process; the futures it returns are already done.

    Jobs from several threads (the service's concurrent batches) take turns:
    the one pipeline of this process is not thread-safe.
    """

    def __init__(self):
        self._turn = threading.Lock()

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        with self._turn:
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as error:  # noqa: BLE001 - handed to whoever reads the future
                future.set_exception(error)
        return future


def _context():
    """How worker processes start.

    ``fork`` when it is safe: this process runs no other thread and has not
    loaded an engine itself (onnxruntime's thread pool, for one, does not
    survive a fork). A worker is then ready in milliseconds with everything
    already imported. Otherwise ``forkserver``: workers fork from a clean
    server process that imported this module once.
    """
    if threading.active_count() == 1 and _pipeline is None:
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def start_workers(settings: OcrSettings, workers: int, threads: int, *, threaded: bool = False) -> Executor:
    """An executor for page jobs whose workers have their engines loaded (or their load error kept)."""
    # One Tesseract thread per process: processes, not threads, share out the cores.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    arguments = (settings.model_dump_json(), threads)
    if threaded:
        return ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="ocr-client", initializer=_start_thread, initargs=arguments
        )
    if workers <= 1:
        _start(*arguments)
        if _startup_error is not None:
            raise _startup_error  # before any document is touched
        return InlineExecutor()
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=_context(), initializer=_start, initargs=arguments
    )
