"""Worker processes for OCR pages: one :class:`PagePipeline` (and its engines) per process.

Pages travel to the workers as arrays and come back as results; each worker
loads its engines once and keeps them for the batch. With one worker the
pages run in this process (no process start, and the GPU engine stays in the
process that owns the GPU).
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor

from ocr_task.config import OcrSettings
from ocr_task.documents import ImagePage
from ocr_task.pipeline import PagePipeline
from ocr_task.result import PageResult

_pipeline: PagePipeline | None = None


def _start(settings_json: str, threads: int) -> None:
    global _pipeline
    _pipeline = PagePipeline(OcrSettings.model_validate_json(settings_json), threads)


def process_pages(pages: list[ImagePage]) -> list[PageResult]:
    assert _pipeline is not None, "worker not started"
    return _pipeline.process(pages)


class InlineExecutor(Executor):
    """Runs each job at once in this process; the futures it returns are already done."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # noqa: BLE001 - handed to whoever reads the future
            future.set_exception(error)
        return future


def start_workers(settings: OcrSettings, workers: int, threads: int) -> tuple[Executor, PagePipeline | None]:
    """An executor for page jobs, and this process's own pipeline when pages run here."""
    # One Tesseract thread per process: processes, not threads, share out the cores.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    if workers <= 1:
        _start(settings.model_dump_json(), threads)
        return InlineExecutor(), _pipeline
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start,
        initargs=(settings.model_dump_json(), threads),
    )
    return pool, None
