"""Pages whose text is too small for the engine: measured, cleaned of speckle, and enlarged.

Tesseract reads best with letters of 20 pixels or more; a 100-dpi fax gives
it 7 or 8. The text height is measured on the page itself (the median height
of its ink's connected components: a file's DPI is often missing or wrong),
and a page whose text is under ``MIN_TEXT_PX`` is enlarged towards
``TARGET_TEXT_PX`` — after removing isolated specks, which enlarging would
turn into blots that the engine reads as characters. Measured on 100-dpi
faxes (bench/RESULTS.md): enlarging alone made them read worse, cleaning
first and then enlarging better.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

MIN_TEXT_PX = 12  # median ink component height under which a page is enlarged
TARGET_TEXT_PX = 22
MAX_FACTOR = 3
_SPECK_AREA = 2  # connected components of this many pixels or fewer are noise
_INK = 128


def _components(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ink = (gray < _INK).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    return ink, labels, stats


def text_height(gray: Image.Image) -> float | None:
    """Median height in pixels of the page's letter-sized ink components (None: no text to measure)."""
    _, _, stats = _components(np.asarray(gray))
    heights = stats[1:, cv2.CC_STAT_HEIGHT]
    areas = stats[1:, cv2.CC_STAT_AREA]
    letters = heights[(areas > _SPECK_AREA) & (heights >= 3) & (heights < gray.height / 20)]
    return float(np.median(letters)) if len(letters) >= 50 else None


def enlargement(gray: Image.Image) -> int:
    """How many times to enlarge the page (1: its text is big enough, or there is none to measure)."""
    height = text_height(gray)
    if height is None or height >= MIN_TEXT_PX:
        return 1
    return int(min(MAX_FACTOR, max(2, round(TARGET_TEXT_PX / height))))


def despeckled(gray: Image.Image) -> Image.Image:
    """The page without isolated specks of ink (the line noise of a fax)."""
    pixels = np.asarray(gray).copy()
    ink, labels, stats = _components(pixels)
    specks = stats[:, cv2.CC_STAT_AREA] <= _SPECK_AREA
    specks[0] = False  # the background
    pixels[specks[labels] & (ink > 0)] = 255
    return Image.fromarray(pixels)


def enlarged(gray: Image.Image, factor: int) -> Image.Image:
    cleaned = despeckled(gray)
    return cleaned.resize((gray.width * factor, gray.height * factor), Image.Resampling.BICUBIC)
