"""Tesseract 5 through tesserocr's in-process API, with language data from Debian's packages.

One ``PyTessBaseAPI`` per language set, created on first use and kept for
the whole batch: no process start and no model load per page. Run one
Tesseract per core (``OMP_THREAD_LIMIT=1``): its own threads fight each other.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from PIL import Image

from ocr_task.config import OcrSettings
from ocr_task.engines import TESSERACT
from ocr_task.engines.base import Engine, Recognition
from ocr_task.errors import EngineUnavailable
from ocr_task.result import BBox, EngineInfo, Line
from ocr_task.tessdata import check_languages, find_tessdata

DEFAULT_LANG = "rus+eng"


class Word(NamedTuple):
    text: str
    confidence: float
    bbox: BBox


class TesseractEngine(Engine):
    name = TESSERACT

    def __init__(self, settings: OcrSettings, threads: int = 1):
        try:
            import tesserocr
        except ImportError as error:
            raise EngineUnavailable("tesserocr is not installed: pip install 'ocr-ingest[cpu]'") from error
        self._tesserocr = tesserocr
        self.tessdata = find_tessdata(settings.tessdata_dir)
        self.default_lang = settings.lang or DEFAULT_LANG
        self._apis: dict[str, object] = {}
        self._version = tesserocr.tesseract_version().split()[1]

    def info(self, lang: str | None = None) -> EngineInfo:
        return EngineInfo(self.name, self._version, (lang or self.default_lang).split("+"))

    def _api(self, lang: str):
        if lang not in self._apis:
            check_languages(lang, self.tessdata)
            self._apis[lang] = self._tesserocr.PyTessBaseAPI(path=str(self.tessdata) + "/", lang=lang)
        return self._apis[lang]

    def recognize(self, images: list[np.ndarray], lang: str | None) -> list[Recognition]:
        lang = lang or self.default_lang
        return [Recognition(self.info(lang), lang, lines=self._read(image, lang)) for image in images]

    def read_cell(self, image: np.ndarray, lang: str | None) -> tuple[str, float | None]:
        """A cell as one block of text: the page layout analysis drops lone characters such as "1" or "№"."""
        api = self._api(lang or self.default_lang)
        api.SetPageSegMode(self._tesserocr.PSM.SINGLE_BLOCK)
        try:
            api.SetImage(Image.fromarray(image).convert("L"))
            text = api.GetUTF8Text().strip()
            confidence = api.MeanTextConf() / 100 if text else None
        finally:
            api.SetPageSegMode(self._tesserocr.PSM.AUTO)
        return text, confidence

    def read_words(self, image: np.ndarray, lang: str) -> list[Word]:
        """One line's words, each with its confidence and box (a line read again word by word)."""
        tesserocr = self._tesserocr
        api = self._api(lang)
        api.SetPageSegMode(tesserocr.PSM.SINGLE_LINE)
        try:
            api.SetImage(Image.fromarray(image).convert("L"))
            api.Recognize()
            iterator = api.GetIterator()
            words = []
            for item in tesserocr.iterate_level(iterator, tesserocr.RIL.WORD) if iterator else ():
                try:
                    text = (item.GetUTF8Text(tesserocr.RIL.WORD) or "").strip()
                except RuntimeError:  # "No text returned": nothing read on the line
                    continue
                box = item.BoundingBox(tesserocr.RIL.WORD)
                if text and box:
                    words.append(Word(text, round(item.Confidence(tesserocr.RIL.WORD) / 100, 4), tuple(box)))
        finally:
            api.SetPageSegMode(tesserocr.PSM.AUTO)
        return words

    def _read(self, image: np.ndarray, lang: str) -> list[Line]:
        tesserocr = self._tesserocr
        api = self._api(lang)
        page = Image.fromarray(image)
        api.SetImage(page if page.mode == "L" else page.convert("L"))
        api.Recognize()
        level = tesserocr.RIL.TEXTLINE
        lines = []
        iterator = api.GetIterator()
        if iterator is None:  # a page with nothing on it
            return lines
        for item in tesserocr.iterate_level(iterator, level):
            try:
                text = (item.GetUTF8Text(level) or "").strip()
            except RuntimeError:  # "No text returned": a line of nothing (a blank or near-blank page)
                continue
            box = item.BoundingBox(level)
            if text and box:
                lines.append(
                    Line(bbox=tuple(box), text=text, confidence=round(item.Confidence(level) / 100, 4))
                )
        return lines
