"""The one small interface every OCR engine implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import cv2
import numpy as np

from ocr_task.result import Block, EngineInfo, Line, weighted_confidence


@dataclass
class Recognition:
    """What an engine read on one page.

    Line-level engines (Tesseract, RapidOCR) give ``lines`` and let
    :mod:`ocr_task.reading_order` order them; engines with their own layout model
    (PaddleOCR-VL) give ordered ``blocks`` and may give the page's Markdown.
    """

    engine: EngineInfo
    lang: str | None
    lines: list[Line] | None = None
    blocks: list[Block] | None = None
    markdown: str | None = None


class Engine(ABC):
    """Loaded once per process and reused for every page of the batch."""

    name: str
    #: whether pages should be turned upright and deskewed before they reach the engine
    wants_upright_pages: bool = True
    #: whether a page whose text is too small for the engine is enlarged for it (resolution.py)
    wants_small_text_enlarged: bool = True
    #: whether the engine finds tables itself; if not, ruled tables are read cell by cell (tables.py)
    finds_tables: bool = False

    @abstractmethod
    def info(self) -> EngineInfo: ...

    @abstractmethod
    def recognize(self, images: list[np.ndarray], lang: str | None) -> list[Recognition]:
        """Recognise a batch of RGB page images (engines that batch on a GPU get them together)."""

    def read_cell(self, image: np.ndarray, lang: str | None) -> tuple[str, float | None]:
        """The text of one table cell (a small crop) and its confidence."""
        [recognition] = self.recognize([image], lang)
        lines = recognition.lines or []
        confidence = weighted_confidence((ln.confidence, len(ln.text)) for ln in lines)
        return " ".join(ln.text for ln in lines if ln.text), confidence


def to_bgr(image: np.ndarray) -> np.ndarray:
    """OpenCV's channel order, which RapidOCR and PaddleX expect of numpy input; grayscale is spread to 3 channels."""
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)  # a quarter of numpy's repeat time
    return np.ascontiguousarray(image[:, :, ::-1])
