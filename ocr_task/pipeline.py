"""One page's way from pixels to a result: upright, straight, to the right engine, in reading order.

A :class:`PagePipeline` lives in each worker process and keeps its engines
(and Tesseract's orientation detector) loaded for the whole batch.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from importlib.metadata import version

import numpy as np
from PIL import Image

from ocr_task.config import OcrSettings
from ocr_task.documents import ImagePage, TextLayerPage
from ocr_task.engines import AUTO, EngineSet
from ocr_task.engines.auto import choose
from ocr_task.engines.base import Recognition
from ocr_task.layout import build_blocks
from ocr_task.orientation import OrientationDetector, estimate_skew, straighten, turn_upright
from ocr_task.result import EngineInfo, PageResult

TEXT_LAYER_ENGINE = EngineInfo("pdf-text-layer", version("pypdfium2"), ["pdfium"])


@dataclass
class _Prepared:
    page: ImagePage
    image: np.ndarray
    rotation: int
    skew: float
    script: str | None
    engine: str
    lang: str | None
    seconds: float


class PagePipeline:
    def __init__(self, settings: OcrSettings, threads: int = 1):
        self.settings = settings
        self.engines = EngineSet(settings, threads)
        self._detector: OrientationDetector | None = None

    def preload(self) -> None:
        """Load what every page will need now, so that a missing model fails before any document."""
        if self._wants_upright_pages():  # loads the engine that answers, too
            self.detector()

    def detector(self) -> OrientationDetector:
        if self._detector is None:
            self._detector = OrientationDetector(self.settings.tessdata_dir)
        return self._detector

    def _wants_upright_pages(self) -> bool:
        name = self.settings.engine
        if name == AUTO:
            name = "paddleocr-vl" if self.settings.vl.enabled else "tesseract"
        return self.engines.get(name).wants_upright_pages

    def _prepare(self, page: ImagePage) -> _Prepared:
        started = time.perf_counter()
        engine_name = self.settings.engine
        image = Image.fromarray(page.image)
        rotation, skew, script = 0, 0.0, None
        if self._wants_upright_pages():
            gray = image if image.mode == "L" else image.convert("L")
            found = self.detector().detect(gray)
            rotation, script = found.rotation, found.script
            if rotation:
                gray = turn_upright(gray, rotation)
                image = gray if image.mode == "L" else turn_upright(image, rotation)
            image, skew = straighten(image, estimate_skew(gray))
        if engine_name == AUTO:
            engine_name, lang = choose(self.settings, script)
        else:
            lang = self.settings.lang
        return _Prepared(
            page, np.asarray(image), rotation, skew, script, engine_name, lang, time.perf_counter() - started
        )

    def process(self, pages: list[ImagePage]) -> list[PageResult]:
        """Recognise pages; pages bound for the same engine and language go to it together."""
        prepared = [self._prepare(page) for page in pages]
        groups: dict[tuple[str, str | None], list[int]] = defaultdict(list)
        for i, item in enumerate(prepared):
            groups[(item.engine, item.lang)].append(i)
        recognitions: list[Recognition | None] = [None] * len(prepared)
        seconds = [0.0] * len(prepared)
        for (engine_name, lang), members in groups.items():
            started = time.perf_counter()
            found = self.engines.get(engine_name).recognize([prepared[i].image for i in members], lang)
            share = (time.perf_counter() - started) / len(members)
            for i, recognition in zip(members, found, strict=True):
                recognitions[i], seconds[i] = recognition, share
        return [
            _page_result(item, recognition, spent)
            for item, recognition, spent in zip(prepared, recognitions, seconds, strict=True)
        ]


def _page_result(item: _Prepared, recognition: Recognition, recognition_seconds: float) -> PageResult:
    started = time.perf_counter()
    blocks = recognition.blocks if recognition.blocks is not None else build_blocks(recognition.lines or [])
    height, width = item.image.shape[:2]
    return PageResult(
        index=item.page.index,
        width=width,
        height=height,
        dpi=item.page.dpi,
        rotation=item.rotation,
        skew=item.skew,
        source="ocr",
        engine=recognition.engine,
        script=item.script,
        lang=recognition.lang,
        blocks=blocks,
        markdown=recognition.markdown,
        blank=not any(b.text for b in blocks),
        timings={
            "prepare": round(item.seconds, 4),
            "recognition": round(recognition_seconds, 4),
            "layout": round(time.perf_counter() - started, 4),
        },
    )


def text_layer_result(page: TextLayerPage, seconds: float) -> PageResult:
    """A PDF page read from its own text layer: exact text, no OCR."""
    started = time.perf_counter()
    blocks = build_blocks(page.lines)
    return PageResult(
        index=page.index,
        width=page.width,
        height=page.height,
        dpi=page.dpi,
        rotation=0,
        skew=0.0,
        source="text-layer",
        engine=TEXT_LAYER_ENGINE,
        script=None,
        lang=None,
        blocks=blocks,
        timings={"extract": round(seconds, 4), "layout": round(time.perf_counter() - started, 4)},
    )
