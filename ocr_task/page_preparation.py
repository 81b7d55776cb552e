"""A page made ready for its engine: a photo flattened, turned upright, straightened, small or very large
text scaled, ruled tables found, and the engine and language chosen (``engines.auto`` for ``auto``).

A page of ordinary print bound for Tesseract's combined ``rus+eng`` model may
be read before its orientation is asked (``orientation_deferred``): the
pipeline asks only when that reading is unsure or runs down the page (see
``ocr_task.pipeline``). Small print, other languages and engines are asked
first, as is PaddleOCR-VL, which gives no confidence to judge by.
PaddleOCR-VL's pages are turned by PaddleOCR's page orientation classifier
(``orientation_model``): it tells no script, which the VLM does not need,
for a tenth of OSD's time; OSD when it is unsure. (What each costs:
bench/RESULTS.md.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image

from ocr_task.config import OcrSettings
from ocr_task.documents import ImagePage
from ocr_task.engines import AUTO, PADDLE_VL, TESSERACT
from ocr_task.engines.auto import UNKNOWN_SCRIPT_LANG, choose
from ocr_task.engines.base import Engine
from ocr_task.engines.loaded import EngineSet
from ocr_task.engines.tesseract import DEFAULT_LANG
from ocr_task.orientation import (
    CJK_SCRIPTS,
    Orientation,
    OrientationDetector,
    estimate_skew,
    straighten,
    turn_upright,
)
from ocr_task.orientation_model import OrientationClassifier
from ocr_task.photo import unphotographed
from ocr_task.resolution import despeckled, enlarged, measure_text, reduced
from ocr_task.sparse import SPARSE_LETTERS
from ocr_task.tables import Grid, blank_tables, find_tables, gray_of

BLANK_LETTERS = 3  # a page with fewer letter-sized ink components is blank
OSD_MIN_LETTERS = 20  # orientation detection needs this many characters (its own smallest sample)

@dataclass
class PreparedPage:
    """A page made ready for its engine: upright, straight, scaled, its ruled tables found."""

    page: ImagePage
    image: np.ndarray
    rotation: int
    skew: float
    script: str | None
    engine: str
    lang: str | None
    seconds: float
    scale: float = 1  # enlarged (small text) or reduced (very large text) by this factor
    tables: list[Grid] = field(default_factory=list)  # ruled tables, read cell by cell
    flattened: list[list[float]] | None = None  # a photo: the page's corners in it (PageResult.flattened)
    blank: bool = False  # no ink of a letter's size: not sent to an engine
    orientation_deferred: bool = False  # read as it came: orientation detected only if the reading is unsure
    letters: int | None = None  # letter-sized ink components (None: not measured)

    @property
    def few_letters(self) -> bool:
        """Fewer letter-sized ink components than a page of print has (``sparse``): a label, a strip, a map."""
        return self.letters is not None and self.letters < SPARSE_LETTERS

    @property
    def text_image(self) -> np.ndarray:
        """What the engine reads for the page's text: the page, its ruled tables blanked out."""
        return blank_tables(self.image, self.tables) if self.tables else self.image

    def turned(self, extra: int) -> PreparedPage:
        """The page turned ``extra`` more degrees (90, 180, 270) towards upright."""
        image = np.ascontiguousarray(np.rot90(self.image, extra // 90))
        return replace(self, image=image, rotation=(self.rotation + extra) % 360, tables=[])


class PagePreparation:
    """Pages made ready for their engine; the orientation detector and classifier loaded on first use."""

    def __init__(self, settings: OcrSettings, engines: EngineSet):
        self.settings = settings
        self.engines = engines
        self._detector: OrientationDetector | None = None
        self._classifier: OrientationClassifier | None = None

    def preload(self) -> None:
        """Load what every page will need now, so that a missing model fails before any document."""
        if not self.wants_upright_pages():  # loads the engine that answers, too
            return
        if self._turned_by_classifier():
            self.classifier()
        else:
            self.detector()

    def detector(self) -> OrientationDetector:
        if self._detector is None:
            self._detector = OrientationDetector(self.settings.tessdata_dir)
        return self._detector

    def classifier(self) -> OrientationClassifier:
        if self._classifier is None:
            self._classifier = OrientationClassifier()
        return self._classifier

    def _turned_by_classifier(self) -> bool:
        """Whether pages are turned by the page classifier rather than OSD: for an engine that needs no script."""
        return self.main_engine().name == PADDLE_VL

    def _orientation(self, gray: Image.Image, small_print: bool) -> Orientation:
        if self._turned_by_classifier():
            rotation = self.classifier().detect(gray)
            if rotation is not None:
                return Orientation(rotation, None)
        return self.detector().detect(gray, small_text=small_print)

    def main_engine(self) -> Engine:
        """The engine the batch's pages go to (``auto``: PaddleOCR-VL when enabled, else Tesseract's family)."""
        name = self.settings.engine
        if name == AUTO:
            name = PADDLE_VL if self.settings.vl.enabled else TESSERACT
        return self.engines.get(name)

    def wants_upright_pages(self) -> bool:
        return self.main_engine().wants_upright_pages

    def engine_for(self, script: str | None, enlarged: bool = False) -> tuple[str, str | None]:
        """The engine and language a page goes to: ``auto`` chooses by the page's script."""
        if self.settings.engine == AUTO:
            return choose(self.settings, script, enlarged)
        return self.settings.engine, self.settings.lang

    def _may_defer_orientation(self, small_print: bool) -> bool:
        """Whether a page may be read before its orientation is detected (see the module's docstring)."""
        engine_name, lang = self.engine_for(None)
        return not small_print and engine_name == TESSERACT and (lang or DEFAULT_LANG) == UNKNOWN_SCRIPT_LANG

    def prepare(self, page: ImagePage, may_defer: bool = True) -> PreparedPage:
        started = time.perf_counter()
        image = Image.fromarray(page.image)
        rotation, skew, script, scale, flattened, deferred, letters = 0, 0.0, None, 1, None, False, None
        if self.wants_upright_pages():
            gray = image if image.mode == "L" else image.convert("L")
            photo = unphotographed(np.asarray(gray))
            if photo is not None:  # a photo of a page: cut out, perspective undone, light evened (photo.py)
                page_only, corners = photo
                gray = image = Image.fromarray(page_only)
                flattened = [[round(float(x), 2), round(float(y), 2)] for x, y in corners]
            measure = measure_text(gray)
            letters = measure.letters
            if measure.letters < BLANK_LETTERS:  # nothing to read: no orientation, no engine (a blank page)
                engine_name, lang = self.engine_for(None)
                seconds = time.perf_counter() - started
                return PreparedPage(page, np.asarray(image), 0, 0.0, None, engine_name, lang, seconds, blank=True)
            small_print, speckled = measure.enlargement > 1, gray
            if measure.reduction < 1 and self.main_engine().wants_small_text_enlarged:
                scale = measure.reduction  # very large text: read smaller (resolution.py)
                image = reduced(image, scale)
                gray = image if image.mode == "L" else reduced(gray, scale)
            if small_print:  # text too small: cleaned now, enlarged once upright and straight (resolution.py)
                gray = image = despeckled(gray)
                scale = measure.enlargement if self.main_engine().wants_small_text_enlarged else 1
            if measure.letters >= OSD_MIN_LETTERS:  # fewer: OSD cannot tell, and takes long to say so
                deferred = may_defer and self._may_defer_orientation(small_print)
                if not deferred:
                    found = self._orientation(gray, small_print)
                    rotation = found.rotation
                    # a sparse page's alphabet is decided by what is read (sparse.py); CJK goes to RapidOCR,
                    # which reads Latin labels too (a Chinese page has a few hundred characters, each large)
                    told = measure.letters >= SPARSE_LETTERS or found.script in CJK_SCRIPTS
                    script = found.script if told else None
            if rotation:
                gray = turn_upright(gray, rotation)
                image = gray if image.mode == "L" else turn_upright(image, rotation)
            if small_print:  # upright now: the dots of i and j, specks to the orientation detector, come back
                image = despeckled(turn_upright(speckled, rotation), keep_dots=True)
            image, skew = straighten(image, estimate_skew(gray))
            if scale > 1:
                image = enlarged(image, scale)
        engine_name, lang = self.engine_for(script, enlarged=scale > 1)
        pixels = np.asarray(image)
        tables = [] if self.engines.get(engine_name).finds_tables else find_tables(gray_of(pixels))
        return PreparedPage(
            page, pixels, rotation, skew, script, engine_name, lang, time.perf_counter() - started, scale, tables,
            flattened, orientation_deferred=deferred,
            letters=letters,
        )

