"""A PDF text layer compared with a quick OCR of a few of its lines: the last check before it is used.

A layer can pass every check of its characters and still not be the page's
text: glyph codes that happen to be letters of one script, text hidden under
an image, another page's text. So a few of its longest lines are cut out of
the rendered page by their boxes and read by a CPU engine (one line each,
about 20 ms with Tesseract); the layer is used if what was read is like what
the layer says. A right layer scores 0.9 or more (OCR's own errors), a wrong
one near 0.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from difflib import SequenceMatcher

import numpy as np

from ocr_task.engines import RAPIDOCR, TESSERACT
from ocr_task.engines.auto import UNKNOWN_SCRIPT_LANG
from ocr_task.result import Line

SAMPLE_LINES = 3
MIN_LETTERS = 4  # a sampled line has at least this many letters
MIN_SIMILARITY = 0.6  # mean similarity of the sampled lines to their OCR for the layer to be used
_PAD = 0.4  # of the line's height, around its crop


@dataclass
class SampleCheck:
    similarity: float | None  # None: no line of the layer could be sampled
    lines: int

    @property
    def passed(self) -> bool:
        return self.similarity is not None and self.similarity >= MIN_SIMILARITY


def sample_engine(text: str) -> tuple[str, str | None]:
    """The CPU engine and language that read the layer's script: RapidOCR for CJK text, else Tesseract."""
    letters = [ch for ch in text if ch.isalpha()]
    cjk = sum(
        unicodedata.name(ch, "").startswith(("CJK", "HIRAGANA", "KATAKANA", "HANGUL")) for ch in letters
    )
    if letters and 2 * cjk > len(letters):
        return RAPIDOCR, None
    return TESSERACT, UNKNOWN_SCRIPT_LANG


def _comparable(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


def similarity(layer: str, read: str) -> float:
    return SequenceMatcher(None, _comparable(layer), _comparable(read), autojunk=False).ratio()


def _sampled(lines: list[Line], image: np.ndarray) -> list[Line]:
    """The longest lines set across the page and lying on it, at most ``SAMPLE_LINES``."""
    height, width = image.shape[:2]
    candidates = [
        ln
        for ln in lines
        if sum(ch.isalpha() for ch in ln.text) >= MIN_LETTERS
        and ln.bbox[2] - ln.bbox[0] > ln.bbox[3] - ln.bbox[1] > 2
        and ln.bbox[0] >= 0 and ln.bbox[1] >= 0 and ln.bbox[2] <= width and ln.bbox[3] <= height
    ]  # fmt: skip
    return sorted(candidates, key=lambda ln: -len(ln.text))[:SAMPLE_LINES]


def crop_around(image: np.ndarray, box: tuple[int, int, int, int], pad: int) -> np.ndarray:
    """The part of ``image`` inside ``box`` and ``pad`` pixels around it, clipped to the image, contiguous."""
    x0, y0, x1, y1 = box
    return np.ascontiguousarray(image[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad])


def check_sample(
    lines: list[Line], image: np.ndarray, read: Callable[[np.ndarray], tuple[str, float | None]]
) -> SampleCheck:
    """The layer's sampled lines read off ``image`` (the page rendered at the lines' scale) with ``read``."""
    sampled = _sampled(lines, image)
    if not sampled:
        return SampleCheck(None, 0)
    scores = []
    for line in sampled:
        pad = max(2, round(_PAD * (line.bbox[3] - line.bbox[1])))
        text, _ = read(crop_around(image, line.bbox, pad))
        scores.append(similarity(line.text, text))
    return SampleCheck(round(sum(scores) / len(scores), 4), len(scores))
