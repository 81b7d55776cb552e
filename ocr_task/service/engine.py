"""The engine the service keeps loaded, and the queue in front of it."""

from __future__ import annotations

import asyncio
import logging
import threading

from ocr_task.config import OcrSettings
from ocr_task.errors import BatchError
from ocr_task.runner import BatchRunner

log = logging.getLogger("ocr_task.service")


class QueueFull(Exception):
    pass


class Places:
    """Room for jobs and uploads: ``concurrency`` at work plus ``queue_depth`` waiting, no more."""

    def __init__(self, size: int):
        self.size, self.taken = size, 0

    def take(self) -> None:
        if self.taken >= self.size:
            raise QueueFull("busy: the queue is full, retry later")
        self.taken += 1

    def give_back(self) -> None:
        self.taken -= 1


class LoadedRunner:
    """The batch runner with its workers started once, loaded in the background (``/ready`` tells)."""

    def __init__(self, settings: OcrSettings, concurrency: int, queue_depth: int):
        self.settings = settings
        self.runner = BatchRunner(settings)
        self.turns = asyncio.Semaphore(concurrency)
        self.places = Places(concurrency + queue_depth)
        self.loaded = threading.Event()
        self.load_error: str | None = None

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

    def start_loading(self) -> None:
        threading.Thread(target=self.load, name="engine-load", daemon=True).start()

    @property
    def not_ready(self) -> str | None:
        """Why the engine cannot take work yet (None: it can)."""
        if not self.loaded.is_set():
            return "the engine is loading"
        return self.load_error
