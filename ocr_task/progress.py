"""A batch's progress in its log, at most once every few seconds."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("ocr_task")


class Progress:
    def __init__(self, documents: int, every_seconds: float):
        self.documents = documents
        self.every = every_seconds
        self.started = self._last = time.monotonic()
        self.done = self.failed = self.pages = 0

    def page_done(self, count: int = 1) -> None:
        self.pages += count
        self._maybe_log()

    def document_done(self, failed: bool) -> None:
        self.done += 1
        self.failed += failed
        self._maybe_log()

    def _maybe_log(self) -> None:
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            self.log()

    def log(self, final: bool = False) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        log.info(
            "%s: documents %d/%d (%d failed), pages %d, %.2f pages/s, %.0f s",
            "done" if final else "progress",
            self.done,
            self.documents,
            self.failed,
            self.pages,
            self.pages / elapsed,
            elapsed,
        )
