"""OCR engines: one module each, registered here by name.

Adding an engine is one module implementing :class:`~ocr_task.engines.base.Engine`
and one line in ``_LOADERS``.
"""

from __future__ import annotations

from collections.abc import Callable

from ocr_task.config import OcrSettings
from ocr_task.engines.base import Engine


def _tesseract(settings: OcrSettings, threads: int) -> Engine:
    from ocr_task.engines.tesseract import TesseractEngine

    return TesseractEngine(settings)


def _rapidocr(settings: OcrSettings, threads: int) -> Engine:
    from ocr_task.engines.rapidocr import RapidOcrEngine

    return RapidOcrEngine(settings, threads)


def _paddle_vl(settings: OcrSettings, threads: int) -> Engine:
    from ocr_task.engines.paddle_vl import PaddleOcrVlEngine

    return PaddleOcrVlEngine(settings)


_LOADERS: dict[str, Callable[[OcrSettings, int], Engine]] = {
    "tesseract": _tesseract,
    "rapidocr": _rapidocr,
    "paddleocr-vl": _paddle_vl,
}
AUTO = "auto"
ENGINE_NAMES = (AUTO, *_LOADERS)


class EngineSet:
    """The engines one process uses, each loaded on first use and then kept for the batch."""

    def __init__(self, settings: OcrSettings, threads: int = 1):
        self.settings = settings
        self.threads = threads
        self._loaded: dict[str, Engine] = {}

    def get(self, name: str) -> Engine:
        if name not in self._loaded:
            if name not in _LOADERS:
                raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINE_NAMES)}")
            self._loaded[name] = _LOADERS[name](self.settings, self.threads)
        return self._loaded[name]
