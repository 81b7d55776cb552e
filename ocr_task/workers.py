"""Workers for OCR pages: one :class:`PagePipeline` (and its engines) per worker.

Pages travel to the workers as arrays and come back as results; each worker
loads its engines once and keeps them for the batch. With one worker the
pages run in this process (no process start, and the GPU engine stays in the
process that owns the GPU). Where the work is waiting on a server (the VLM on
a vLLM server) there are many workers, one page in flight each; they are
processes, not threads of one process: the client's own CPU work (orientation,
encoding the page, the HTTP client) then uses every core instead of queueing
for one interpreter lock (measured: 9.4 pages/s against 6.7-7.4 with threads,
bench/RESULTS.md).
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import threading
from concurrent.futures import Executor, Future, ProcessPoolExecutor

from ocr_task.config import OcrSettings
from ocr_task.documents import ImagePage
from ocr_task.errors import BatchError, DocumentError
from ocr_task.pipeline import PagePipeline
from ocr_task.result import PageResult

_pipeline: PagePipeline | None = None
_startup_error: BatchError | None = None
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


class PageFailed(Exception):
    """An engine's own exception, as a message (``Type: text``): it crosses back from a worker process
    whatever its class. Not the document's fault as far as anyone can tell: its document fails retryably.

    (Exceptions such as openai's need arguments to be rebuilt; one that cannot
    be unpickled breaks the whole process pool instead of failing its page.)
    """

    @property
    def kind(self) -> str:
        """The engine exception's type name: the same for every page one cause hits."""
        return str(self).split(":", 1)[0]


def process_pages(pages: list[ImagePage]) -> list[PageResult]:
    _check_started()
    assert _pipeline is not None, "worker not started"
    try:
        return _pipeline.process(pages)
    except (BatchError, DocumentError):
        raise
    except MemoryError as error:  # the machine's limit, not the page's: the batch is retried
        raise BatchError(f"an OCR worker ran out of memory: {error}") from None
    except Exception as error:  # noqa: BLE001 - the document fails with this message (retryable)
        raise PageFailed(f"{type(error).__name__}: {error}") from None


def _check_started() -> None:
    if _startup_error is not None:
        raise _startup_error


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


def _context(preload: tuple[str, ...]):
    """How worker processes start.

    ``fork`` when it is safe: this process runs no other thread and has not
    loaded an engine itself (onnxruntime's thread pool, for one, does not
    survive a fork). A worker is then ready in milliseconds with everything
    already imported. Otherwise ``forkserver``: workers fork from a clean
    server process that imported this module once.
    """
    if threading.active_count() == 1 and _pipeline is None:
        for module in preload:  # imported once here rather than in every worker
            with contextlib.suppress(ImportError):  # the worker's engine says what is missing, and how to fix it
                importlib.import_module(module)
        return multiprocessing.get_context("fork")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, *preload])
    return context


def start_workers(settings: OcrSettings, workers: int, threads: int, preload: tuple[str, ...] = ()) -> Executor:
    """An executor for page jobs whose workers have their engines loaded (or their load error kept).

    ``preload``: modules every worker needs that are slow to import (the VLM client's: 2 s each).
    """
    # One Tesseract thread per process: processes, not threads, share out the cores.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    arguments = (settings.model_dump_json(), threads)
    if workers <= 1:
        _start(*arguments)
        if _startup_error is not None:
            raise _startup_error  # before any document is touched
        return InlineExecutor()
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=_context(preload), initializer=_start, initargs=arguments
    )
