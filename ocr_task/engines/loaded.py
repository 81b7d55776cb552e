"""The engines one process has loaded (the registry of names is ``ocr_task.engines``)."""

from __future__ import annotations

import importlib

from ocr_task.config import OcrSettings
from ocr_task.engines import ENGINES, check_engine_name
from ocr_task.engines.base import Engine


def engine_class(name: str) -> type[Engine]:
    """The registered engine's class (``ocr_task.engines.ENGINES``), its module imported now."""
    module, _, attribute = ENGINES[check_engine_name(name)].partition(":")
    return getattr(importlib.import_module(module), attribute)


class EngineSet:
    """The engines one process uses, each loaded on first use and then kept for the batch."""

    def __init__(self, settings: OcrSettings, threads: int = 1):
        self.settings = settings
        self.threads = threads
        self._loaded: dict[str, Engine] = {}

    def get(self, name: str) -> Engine:
        if name not in self._loaded:
            self._loaded[name] = engine_class(name)(self.settings, self.threads)
        return self._loaded[name]
