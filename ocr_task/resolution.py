"""How much text a page has and how big it is; pages whose text is too small are cleaned and enlarged.

Tesseract reads best with letters of 20 pixels or more; a 100-dpi fax gives
it 7 or 8. The text height is measured on the page itself (the median height
of its ink's connected components: a file's DPI is often missing or wrong),
and a page whose text is under ``MIN_TEXT_PX`` is cleaned of isolated specks
(which enlarging would turn into blots that the engine reads as characters,
and which make orientation detection take it for upside down), turned upright
(orientation detection looks at it at twice its size: orientation.py) and
straightened at its own size (cheaper), then enlarged towards
``TARGET_TEXT_PX`` for recognition by engines that want it (Tesseract; not
the VLM, which scales pages itself). Measured on 100-dpi faxes
(bench/RESULTS.md): enlarging alone made them read worse, cleaning first and
then enlarging better.

Text that is very large for Tesseract (a typewriter page scanned at high
resolution: letters of 34 pixels) is read worse too: the page is reduced
to ``REDUCED_TEXT_PX`` first. On pages of print at 300 and 400 dpi (25 and
34 pixels) reducing changed nothing or did slightly better.

A fax draws the dot of an i, j, ё or й as one or two pixels, like its line
noise. Once the page is upright, the page that is read keeps the specks that
sit just above a letter: dropping them turned ``in`` into ``m`` and
``original`` into ``omginal`` (12 faxes: 2.31 % CER with every speck
dropped, 1.53 % with the dots kept).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageFilter

MIN_TEXT_PX = 12  # median ink component height under which a page is enlarged
TARGET_TEXT_PX = 22
MAX_TEXT_PX = 30  # median ink component height over which a page is reduced...
REDUCED_TEXT_PX = 16  # ...to this (a typewriter page scanned at 34 pixels: 5.2 % CER as it came, 1.7 % at 14)
MAX_FACTOR = 3
_SPECK_AREA = 2  # connected components of this many pixels or fewer are noise
_DOT_GAP = 3  # a speck at most this many rows above a letter's ink is its dot (2 and 4 did about as well)
_INK_CONTRAST = 60  # ink differs this much from the paper (the page's median): grey noise is not ink
_MIN_MEASURED = 50  # letters needed to measure a page's text height...
_MIN_MEASURED_SMALL = 8  # ...or a small image's (a crop, a thumbnail, a one-line strip: it has no more)
_SMALL_IMAGE_PX = 300_000  # under this many pixels an image is small (a 400x50 strip: 20,000; A4 at 100 dpi: 970,000)


def paper_colour(pixels: np.ndarray) -> tuple[int, ...]:
    """The paper's colour: the median level of each channel (one for a grey page)."""
    if pixels.ndim == 2:
        return (_paper_level(pixels),)
    return tuple(_paper_level(np.ascontiguousarray(pixels[:, :, c])) for c in range(pixels.shape[2]))


def _paper_level(gray: np.ndarray) -> int:
    """The page's median grey level (its paper), from a histogram: 1 ms on an A4 page at 200 dpi, where
    ``np.median`` sorts for 17 ms."""
    counts = cv2.calcHist([gray], [0], None, [256], [0, 256]).ravel()
    return int(np.searchsorted(np.cumsum(counts), (gray.size + 1) // 2))


def _components(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ink (``_INK_CONTRAST`` darker or lighter than the paper: white text on dark paper is text too) and its
    connected components."""
    paper = _paper_level(gray)
    ink = (np.abs(gray.astype(np.int16) - paper) > _INK_CONTRAST).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    return ink, labels, stats


@dataclass
class TextMeasure:
    letters: int  # ink components of a letter's size
    height: float | None  # their median height in pixels (None: too few to tell)

    @property
    def enlargement(self) -> int:
        """How many times to enlarge the page (1: its text is big enough, or there is too little to measure)."""
        if self.height is None or self.height >= MIN_TEXT_PX:
            return 1
        return int(min(MAX_FACTOR, max(2, round(TARGET_TEXT_PX / self.height))))

    @property
    def reduction(self) -> float:
        """The factor (under 1) to reduce a page of very large text by; 1: not too large, or not measured."""
        if self.height is None or self.height <= MAX_TEXT_PX:
            return 1.0
        return round(REDUCED_TEXT_PX / self.height, 3)


def measure_text(gray: Image.Image) -> TextMeasure:
    """The page's letter-sized ink components: how many, and how tall.

    A letter is at most a twentieth of the image's longer side (rules, frames and pictures are larger), and
    less than its whole height: a one-line strip (a crop, a label) is a line of letters, not a blank page.
    """
    _, _, stats = _components(np.asarray(gray))
    heights = stats[1:, cv2.CC_STAT_HEIGHT]
    areas = stats[1:, cv2.CC_STAT_AREA]
    tallest = min(0.9 * gray.height, max(gray.height / 20, gray.width / 20))
    letters = heights[(areas > _SPECK_AREA) & (heights >= 3) & (heights < tallest)]
    needed = _MIN_MEASURED_SMALL if gray.width * gray.height < _SMALL_IMAGE_PX else _MIN_MEASURED
    return TextMeasure(len(letters), float(np.median(letters)) if len(letters) >= needed else None)


def despeckled(gray: Image.Image, keep_dots: bool = False) -> Image.Image:
    """The page without isolated specks of ink (the line noise of a fax); ``keep_dots``: but for the specks just
    above a letter, the dots of i and j (the page must be upright)."""
    pixels = np.asarray(gray).copy()
    ink, labels, stats = _components(pixels)
    specks = stats[:, cv2.CC_STAT_AREA] <= _SPECK_AREA
    specks[0] = False  # the background
    if keep_dots:
        specks &= ~_over_letters(ink, labels, specks)
    pixels[specks[labels] & (ink > 0)] = _paper_level(pixels)
    return Image.fromarray(pixels)


def _over_letters(ink: np.ndarray, labels: np.ndarray, specks: np.ndarray) -> np.ndarray:
    """For each component, whether some of it lies at most ``_DOT_GAP`` rows above the ink of a letter."""
    letters = ((ink > 0) & ~specks[labels]).astype(np.uint8)
    downwards = np.zeros((2 * _DOT_GAP + 1, 1), np.uint8)
    downwards[_DOT_GAP:] = 1
    letter_below = cv2.dilate(letters, downwards, anchor=(0, _DOT_GAP)) > 0  # letter ink within the gap below
    over = np.zeros(len(specks), dtype=bool)
    over[np.unique(labels[letter_below & (ink > 0)])] = True
    return over


def reduced(image: Image.Image, factor: float) -> Image.Image:
    """The page ``factor`` times its size (under 1), by pixel area: no aliasing of thin strokes."""
    pixels = cv2.resize(np.asarray(image), None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    return Image.fromarray(pixels)


def enlarged(image: Image.Image, factor: int) -> Image.Image:
    """Bicubic, then a slight blur that rounds off the staircase edges of enlarged black-and-white glyphs
    (measured on 100-dpi faxes: 3.0% CER without the blur, 2.3% with it)."""
    bigger = image.resize((image.width * factor, image.height * factor), Image.Resampling.BICUBIC)
    return bigger.filter(ImageFilter.GaussianBlur(factor / 3))
