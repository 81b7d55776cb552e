"""One page's way from pixels to a result: prepared (``page_preparation``: upright, straight, scaled, to the
right engine), read, and its reading checked; the re-reading policy lives here.

A :class:`PagePipeline` lives in each worker process and keeps its engines
(and Tesseract's orientation detector) loaded for the whole batch.

A page of ordinary print bound for Tesseract's combined ``rus+eng`` model is
read first and its orientation asked only when that reading is unsure (under
``UPRIGHT_CONFIDENCE``) or runs down the page (Tesseract reads a page turned
one way sideways as vertical lines): almost every page comes upright, and
orientation detection is most of a page's preparation. A page read right
scores well above ``UPRIGHT_CONFIDENCE``, the same page any other way up well
under it (the figures: bench/RESULTS.md, "Orientation asked only when
unsure of readings"). Its script is then the script of what was read. The unsure page is
prepared again with orientation and script detected (a Chinese page goes to
RapidOCR) and read again; ``orientation_check`` keeps the first reading's
confidence (``read_as_is``).

Orientation is checked by the result: a page read with low confidence
(under ``OCR_MIN_CONFIDENCE``) by an engine that needs upright pages is read
again turned by 180, 90 and 270 degrees, until one reads confidently; the
best reading is kept and the page's JSON says what was tried
(``orientation_check``). Orientation detection can be fooled (a speckled
100-dpi fax looks upside down to it); an upside-down reading cannot hide its
low confidence. Then the language (``engines.auto``), look-alike letters
(``lookalikes``) and sparse pages (``sparse``) are checked the same way: by
what was read.
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import replace
from importlib.metadata import version

from ocr_task.config import OcrSettings
from ocr_task.documents import ImagePage
from ocr_task.engines import AUTO, RAPIDOCR, TESSERACT
from ocr_task.engines.auto import (
    LANGUAGE_CHECK_CONFIDENCE,
    LATIN_LANG,
    UNKNOWN_SCRIPT_LANG,
    has_cjk,
    language_to_check,
    latin_only_language,
    letters_of,
    script_read,
)
from ocr_task.engines.base import Recognition
from ocr_task.engines.loaded import EngineSet
from ocr_task.layer_sample import check_sample, crop_around, sample_engine
from ocr_task.lookalikes import reread_lookalikes
from ocr_task.orientation import CJK_SCRIPTS
from ocr_task.page_preparation import PagePreparation, PreparedPage
from ocr_task.reading_order import build_blocks
from ocr_task.result import BBox, Block, EngineInfo, Line, PageResult
from ocr_task.sparse import (
    RUSSIAN_LABELS_CONFIDENCE,
    SPARSE_LETTERS,
    evidence,
    keeps_second_reading,
    reads_russian,
)
from ocr_task.tables import read_table, with_tables

TEXT_LAYER_ENGINE = EngineInfo("pdf-text-layer", version("pypdfium2"), ["pdfium"])


UPRIGHT_CONFIDENCE = 0.8  # a first reading at least this confident, across the page, shows the page was upright

# Turns tried, in order, when a page reads with low confidence: upside down is the usual mistake.
_OTHER_TURNS = (180, 90, 270)


class PagePipeline:
    def __init__(self, settings: OcrSettings, threads: int = 1):
        self.settings = settings
        self.engines = EngineSet(settings, threads)
        self.preparation = PagePreparation(settings, self.engines)

    def preload(self) -> None:
        """Load what every page will need now, so that a missing model fails before any document."""
        self.preparation.preload()

    def process(self, pages: list[ImagePage]) -> list[PageResult]:
        """Pages whose own text layer is their text, from it; the others recognised, those bound for the same
        engine and language together."""
        from_layers: dict[int, PageResult] = {}
        to_read: list[ImagePage] = []
        checks: list[dict | None] = []  # why each page read by OCR did not use its text layer
        for page in pages:
            result, check = self._from_text_layer(page)
            if result is not None:
                from_layers[page.index] = result
            else:
                to_read.append(replace(page, text_layer=None))
                checks.append(check)
        read = iter(
            replace(result, text_layer_check=check)
            for result, check in zip(self._recognised(to_read), checks, strict=True)
        )
        return [from_layers[p.index] if p.index in from_layers else next(read) for p in pages]

    def _from_text_layer(self, page: ImagePage) -> tuple[PageResult | None, dict | None]:
        """The page's result from its text layer if that is what the page shows; else None and why not."""
        layer = page.text_layer
        if layer is None:
            return None, None
        started = time.perf_counter()
        if layer.fault:
            return None, {"used": False, "reason": layer.fault}
        engine_name, lang = sample_engine(layer.text)
        engine = self.engines.get(engine_name)
        sample = check_sample(layer.lines, page.image, lambda crop: engine.read_cell(crop, lang))
        if not sample.passed:
            reason = (
                f"the text layer is not what the page shows: {sample.lines} of its lines read by OCR are "
                f"{sample.similarity:.0%} like it"
                if sample.lines
                else "no line of the text layer lies across the page where OCR can check it"
            )
            return None, {"used": False, "reason": reason, "sample_similarity": sample.similarity}
        check = {
            "used": True,
            "reason": "OCR of its lines reads the same",
            "sample_similarity": sample.similarity,
        }
        return text_layer_result(page, time.perf_counter() - started, check), None

    def _recognised(self, pages: list[ImagePage]) -> list[PageResult]:
        prepared = [self.preparation.prepare(page) for page in pages]
        groups: dict[tuple[str, str | None], list[int]] = defaultdict(list)
        recognitions: list[Recognition | None] = [None] * len(prepared)
        for i, item in enumerate(prepared):
            if item.blank:
                engine = self.engines.get(item.engine)
                recognitions[i] = Recognition(engine.info(), None, lines=[])
            else:
                groups[(item.engine, item.lang)].append(i)
        seconds = [0.0] * len(prepared)
        for (engine_name, lang), members in groups.items():
            started = time.perf_counter()
            found = self.engines.get(engine_name).recognize([prepared[i].text_image for i in members], lang)
            share = (time.perf_counter() - started) / len(members)
            for i, recognition in zip(members, found, strict=True):
                recognitions[i], seconds[i] = recognition, share
        results = [
            self._with_tables(item, _page_result(item, recognition, spent))
            for item, recognition, spent in zip(prepared, recognitions, seconds, strict=True)
        ]
        return [self._checked(item, result) for item, result in zip(prepared, results, strict=True)]

    def _with_tables(self, item: PreparedPage, result: PageResult) -> PageResult:
        """The page's ruled tables, each cell read on its own by the page's engine, among its blocks."""
        if not item.tables:
            return result
        engine = self.engines.get(item.engine)
        started = time.perf_counter()
        tables = [read_table(item.image, table, lambda cell: engine.read_cell(cell, item.lang)) for table in item.tables]
        timings = {**result.timings, "tables": round(time.perf_counter() - started, 4)}
        return replace(result, blocks=with_tables(result.blocks, tables), blank=False, timings=timings)

    def _checked(self, item: PreparedPage, result: PageResult) -> PageResult:
        """The reading checked by its result: the language ``auto`` chose, then the orientation, then (for an
        enlarged page) the language again by what was read (see ``engines.auto``)."""
        if item.orientation_deferred:
            item, result = self._upright_checked(item, result)
        combined = language_to_check(self.settings, item.engine, item.lang)
        if combined and (result.mean_confidence or 0.0) < LANGUAGE_CHECK_CONFIDENCE:
            item, result = self._read_again(item, result, combined, keep_if=lambda old, new: new > old)
        item, result = self._orientation_checked(item, result)
        single = latin_only_language(self.settings, item.engine, item.lang, item.scale, result.text)
        if single:
            item, result = self._read_again(item, result, single, keep_if=lambda _, new: new >= LANGUAGE_CHECK_CONFIDENCE)
        guessed, rapidocr_reading = self._unconfirmed_cjk_script(item, result), None
        if guessed:  # read again as a sparse page of unknown script, below; RapidOCR's reading is at hand
            item, rapidocr_reading = replace(item, engine=TESSERACT, lang=UNKNOWN_SCRIPT_LANG, script=None), result
            result = replace(self._read(item), orientation_check=result.orientation_check)
        if self._is_sparse_for_tesseract(item, result):
            result = self._sparse_checked(item, result, rapidocr_reading)
            if guessed:
                result = replace(result, language_check={**result.language_check, "detected_script_unconfirmed": guessed})
        return self._lookalikes_checked(item, result)

    def _auto_without_hint(self) -> bool:
        settings = self.settings
        return settings.engine == AUTO and not settings.lang and not settings.vl.enabled

    def _unconfirmed_cjk_script(self, item: PreparedPage, result: PageResult) -> str | None:
        """The script detected on a sparse page that ``auto`` sent to RapidOCR as Chinese or Japanese, when
        RapidOCR read no such character there: with a few dozen letters to go on, OSD calls a Russian map
        Japanese, and RapidOCR reads its labels as Latin nonsense. None when there is nothing to doubt."""
        if not (self._auto_without_hint() and item.few_letters and item.engine == RAPIDOCR and item.script in CJK_SCRIPTS):
            return None
        return None if has_cjk(result.text) else item.script

    def _lookalikes_checked(self, item: PreparedPage, result: PageResult) -> PageResult:
        """A Latin page's lines that the combined model read with Cyrillic look-alikes, read again with ``eng``
        (see ``lookalikes``); ``language_check`` says how many."""
        if self.settings.lang or item.engine != TESSERACT:
            return result
        engine = self.engines.get(item.engine)
        result, check = reread_lookalikes(result, item.text_image, engine.read_words, item.few_letters)
        if check is None:
            return result
        return replace(result, language_check={**(result.language_check or {}), "lookalikes": check})

    def _is_sparse_for_tesseract(self, item: PreparedPage, result: PageResult) -> bool:
        """A page with few letters, on the page or in its reading (a map's lines and dashes look like letters to
        the count), that ``auto`` sent to Tesseract with no language hint (see ``sparse``)."""
        if not self._auto_without_hint() or item.engine != TESSERACT or item.letters is None:
            return False
        if item.few_letters:
            return True
        # a page of ruled tables reads few letters outside them, and is no drawing
        return not item.tables and letters_of(result.text)[0] < SPARSE_LETTERS

    def _sparse_checked(
        self, item: PreparedPage, result: PageResult, rapidocr_reading: PageResult | None = None
    ) -> PageResult:
        """A sparse page's script decided by what was read, then RapidOCR's reading (``rapidocr_reading``, when the
        page was read by it already) kept if it has more evidence (see ``sparse``); ``language_check`` says what was
        tried."""
        tried = {item.lang: round(result.mean_confidence or 0.0, 4)}
        latin_read = script_read(result.text) == "Latin"  # Latin words, maybe with Cyrillic look-alikes
        if item.lang == UNKNOWN_SCRIPT_LANG and latin_read:
            latin = self._read(replace(item, lang=LATIN_LANG))
            tried[LATIN_LANG] = round(latin.mean_confidence or 0.0, 4)
            if (latin.mean_confidence or 0.0) >= (result.mean_confidence or 0.0):
                item, result = (
                    replace(item, lang=LATIN_LANG),
                    replace(latin, orientation_check=result.orientation_check),
                )
        # its reading of the tables too, as lines: cell by cell, RapidOCR's detector costs half a second a cell
        candidate = rapidocr_reading or self._read(replace(item, engine=RAPIDOCR, lang=None, tables=[]))
        tried[RAPIDOCR] = round(candidate.mean_confidence or 0.0, 4)
        if not latin_read:  # RapidOCR's detector finds the labels; Tesseract reads them one by one
            # outside the ruled tables, which Tesseract's reading holds already, cell by cell
            tables = [replace(block) for block in result.blocks if block.cells is not None]
            boxes = self.engines.get(RAPIDOCR).find_lines(item.text_image)
            boxed = self._read_boxes(item, candidate, boxes, tables)
            in_boxes = f"{item.lang} in {RAPIDOCR}'s boxes"
            tried[in_boxes] = round(boxed.mean_confidence or 0.0, 4)
            if reads_russian(boxed, RUSSIAN_LABELS_CONFIDENCE) and evidence(boxed) > evidence(result):
                check = {"read_with": next(iter(tried)), "tried": tried, "kept": in_boxes}
                return replace(boxed, language_check=check, orientation_check=result.orientation_check)
        kept = candidate if keeps_second_reading(result, candidate) else result
        check = {
            "read_with": next(iter(tried)),
            "tried": tried,
            "kept": RAPIDOCR if kept is candidate else item.lang,
        }
        return replace(kept, language_check=check, orientation_check=result.orientation_check)

    def _read_boxes(self, item: PreparedPage, found: PageResult, boxes: list[BBox], tables: list[Block]) -> PageResult:
        """Each of the lines another engine found (``boxes``, on the page of its reading ``found``) read by
        ``item``'s engine, alone (its layout analysis misses labels scattered among a drawing's lines), with the
        page's ``tables`` among them."""
        engine = self.engines.get(item.engine)
        lines = []
        for box in boxes:
            # 3 pixels around: the label, not the drawing around it
            text, confidence = engine.read_cell(crop_around(item.image, box, 3), item.lang)
            if text:
                lines.append(Line(bbox=box, text=" ".join(text.split()), confidence=confidence or 0.0))
        blocks = with_tables(build_blocks(lines), tables)
        return replace(found, blocks=blocks, engine=engine.info(item.lang), lang=item.lang)

    def _upright_checked(self, item: PreparedPage, result: PageResult) -> tuple[PreparedPage, PageResult]:
        """A page read as it came: kept if the reading is confident and runs across the page; otherwise the page
        prepared again with its orientation and script detected, and read as that says."""
        confidence = result.mean_confidence
        if confidence is not None and confidence >= UPRIGHT_CONFIDENCE and not _runs_down_the_page(result):
            return item, replace(result, script=script_read(result.text))
        detected = self.preparation.prepare(item.page, may_defer=False)
        check = {"read_as_is": round(confidence or 0.0, 4), "detected_rotation": detected.rotation}
        return detected, replace(self._read(detected), orientation_check=check)

    def _read(self, item: PreparedPage) -> PageResult:
        """One page read again on its own, its ruled tables cell by cell."""
        started = time.perf_counter()
        [recognition] = self.engines.get(item.engine).recognize([item.text_image], item.lang)
        return self._with_tables(item, _page_result(item, recognition, time.perf_counter() - started))

    def _read_again(self, item: PreparedPage, result: PageResult, lang: str, keep_if) -> tuple[PreparedPage, PageResult]:
        """The page read again in ``lang``; that reading is kept if ``keep_if(old, new confidence)``. The page's
        JSON says what was tried (``language_check``)."""
        again = replace(item, lang=lang)
        candidate = self._read(again)
        old, new = result.mean_confidence or 0.0, candidate.mean_confidence or 0.0
        kept_item, kept = (again, candidate) if keep_if(old, new) else (item, result)
        check = {"read_with": item.lang, "tried": {item.lang: round(old, 4), lang: round(new, 4)}, "kept": kept_item.lang}
        return kept_item, replace(kept, language_check=check, orientation_check=result.orientation_check)

    def _orientation_checked(self, item: PreparedPage, result: PageResult) -> tuple[PreparedPage, PageResult]:
        """The page read the other ways up when its reading is unsure; the most confident reading, and the
        page turned as it was read for it."""
        threshold = self.settings.min_confidence
        confidence = result.mean_confidence
        if confidence is None or confidence >= threshold or not self.engines.get(item.engine).wants_upright_pages:
            return item, result
        tried = {result.rotation: round(confidence, 4)}
        best_item, best, best_confidence = item, result, confidence
        for extra in _OTHER_TURNS:
            turned = item.turned(extra)  # its tables are not looked for again: read as a whole
            candidate = self._read(turned)
            score = candidate.mean_confidence or 0.0
            tried[candidate.rotation] = round(score, 4)
            if score > best_confidence:
                best_item, best, best_confidence = turned, candidate, score
            if score >= threshold:
                break
        check = {**(result.orientation_check or {}), "detected_rotation": item.rotation, "tried": tried}
        check["kept_rotation"] = best.rotation
        return best_item, replace(best, orientation_check=check, language_check=result.language_check)


def _runs_down_the_page(result: PageResult) -> bool:
    """Whether most of the text was read in lines taller than wide: the page lies on its side."""
    lines = [ln for block in result.blocks for ln in block.lines if len(ln.text) > 3]
    down = sum(len(ln.text) for ln in lines if ln.bbox[3] - ln.bbox[1] > ln.bbox[2] - ln.bbox[0])
    return 2 * down > sum(len(ln.text) for ln in lines)


def _page_result(item: PreparedPage, recognition: Recognition, recognition_seconds: float) -> PageResult:
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
        scale=item.scale,
        flattened=item.flattened,
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


def text_layer_result(page: ImagePage, seconds: float, check: dict) -> PageResult:
    """A PDF page read from its own text layer: exact text, no OCR (but the check's sample)."""
    started = time.perf_counter()
    blocks = build_blocks(page.text_layer.lines)
    height, width = page.image.shape[:2]  # the layer's lines are in the rendered page's pixels
    return PageResult(
        index=page.index,
        width=width,
        height=height,
        dpi=page.dpi,
        rotation=0,
        skew=0.0,
        source="text-layer",
        engine=TEXT_LAYER_ENGINE,
        script=None,
        lang=None,
        blocks=blocks,
        timings={"check": round(seconds, 4), "layout": round(time.perf_counter() - started, 4)},
        text_layer_check=check,
    )
