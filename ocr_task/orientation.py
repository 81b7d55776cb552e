"""Turning a page upright, straightening slight skew, and telling its script — cheaply.

* Orientation and script: Tesseract's OSD on a small sample of characters
  (``min_characters_to_try``), about 0.1 s a page; a second, larger sample
  only when the first is unsure.
* Skew: the angle at which the page's ink, projected onto the vertical axis,
  gives the sharpest row profile (text lines line up); a few milliseconds on
  the ink pixels of a downscaled page, with no image rotation in the search.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from ocr_task.errors import EngineUnavailable
from ocr_task.resolution import paper_colour
from ocr_task.tessdata import find_tessdata

CJK_SCRIPTS = {"Han", "HanS", "HanT", "Japanese", "Katakana", "Hiragana", "Hangul", "Korean"}

# OSD samples this many characters first, and the larger number (Tesseract's own default) when the first
# answer is unsure. 50 and 100 found the same orientation for 144 pages (4 turns each of clean, scanned,
# two-column, short, mixed-language, invoice and fax pages); 100 took twice as long on unsure pages.
_QUICK_SAMPLE, _FULL_SAMPLE = 20, 50
_SURE = 5.0  # orientation confidence above which the quick answer stands
_MIN_CONFIDENCE = 1.5  # below this a page is left as it is

_MAX_SKEW = 5.0
_MIN_SKEW = 0.3  # smaller skew is not worth resampling the page
_SKEW_WIDTH = 600  # width of the page sample the skew search runs on


@dataclass
class Orientation:
    rotation: int  # degrees clockwise the page was turned from upright
    script: str | None


class OrientationDetector:
    """Tesseract OSD, loaded once per process."""

    def __init__(self, tessdata_dir=None):
        try:
            import tesserocr
        except ImportError as error:
            raise EngineUnavailable("tesserocr is not installed: pip install 'ocr-ingest[cpu]'") from error
        tessdata = find_tessdata(tessdata_dir)
        if not (tessdata / "osd.traineddata").is_file():
            raise EngineUnavailable(
                f"Tesseract's orientation data (osd.traineddata) is missing in {tessdata}: "
                "apt-get install tesseract-ocr-osd"
            )
        self._api = tesserocr.PyTessBaseAPI(path=str(tessdata) + "/", lang="osd", psm=tesserocr.PSM.OSD_ONLY)

    def _detect(self, sample: int) -> dict | None:
        self._api.SetVariable("min_characters_to_try", str(sample))
        try:
            return self._api.DetectOrientationScript()
        except RuntimeError:  # too few characters to tell
            return None

    def detect(self, gray: Image.Image, small_text: bool = False) -> Orientation:
        """``small_text``: the page's letters are too small for OSD (a 100-dpi fax): it looks at the page at twice
        its size. At their own size OSD turned 15 of 24 speckled faxes the wrong way (and took longer, being
        unsure); at twice the size none (bench/RESULTS.md)."""
        if small_text:
            gray = gray.resize((gray.width * 2, gray.height * 2), Image.Resampling.NEAREST)
        self._api.SetImage(gray)
        found = self._detect(_QUICK_SAMPLE)
        if not found or found["orient_conf"] < _SURE:
            found = self._detect(_FULL_SAMPLE) or found
        if not found:
            return Orientation(0, None)
        rotation = found["orient_deg"] if found["orient_conf"] >= _MIN_CONFIDENCE else 0
        return Orientation(rotation, found["script_name"])


def turn_upright(image: Image.Image, rotation: int) -> Image.Image:
    """Undo a clockwise ``rotation`` (a multiple of 90 degrees)."""
    transpose = {
        90: Image.Transpose.ROTATE_90,
        180: Image.Transpose.ROTATE_180,
        270: Image.Transpose.ROTATE_270,
    }
    return image.transpose(transpose[rotation]) if rotation in transpose else image


def _ink_coordinates(gray: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    scale = min(1.0, _SKEW_WIDTH / gray.width)
    size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
    small = cv2.resize(np.asarray(gray), size, interpolation=cv2.INTER_AREA)  # a quarter of Pillow's bicubic time
    threshold = (int(small.min()) + int(small.max())) / 2
    ys, xs = np.nonzero(small < threshold)
    return xs.astype(np.float64), ys.astype(np.float64)


def _sharpness(xs: np.ndarray, ys: np.ndarray, angle: float) -> float:
    rows = ys - xs * np.tan(np.radians(angle))
    counts = np.bincount((rows - rows.min()).astype(np.int64))
    return float(np.dot(counts, counts))


def estimate_skew(gray: Image.Image) -> float:
    """Degrees clockwise the text lines are tilted (within ±5°); 0 when there is too little ink."""
    xs, ys = _ink_coordinates(gray)
    if len(xs) < 500:  # hardly any ink: nothing to straighten
        return 0.0
    coarse = np.arange(-_MAX_SKEW, _MAX_SKEW + 0.01, 0.5)
    best = max(coarse, key=lambda a: _sharpness(xs, ys, a))
    fine = np.arange(best - 0.5, best + 0.51, 0.1)
    best = max(fine, key=lambda a: _sharpness(xs, ys, a))
    return round(float(best), 2)


def straighten_matrix(width: int, height: int, skew: float) -> tuple[np.ndarray, tuple[int, int]]:
    """The affine map ``straighten`` applies to a ``width`` × ``height`` page, and the canvas it makes (the
    searchable PDF takes boxes back through it)."""
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), skew, 1.0)  # counter-clockwise, as Pillow's
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    size = (int(np.ceil(height * sin + width * cos)), int(np.ceil(height * cos + width * sin)))
    matrix[:, 2] += (size[0] - width) / 2, (size[1] - height) / 2
    return matrix, size


def straighten(image: Image.Image, skew: float) -> tuple[Image.Image, float]:
    """Rotate away a skew of at least 0.3°, the page enlarged to hold its corners; returns the image and the
    skew that was corrected. OpenCV's affine warp: 8 ms on an A4 page at 200 dpi, where Pillow's rotate took 40.

    The corners it uncovers take the paper's colour: white wedges on grey paper are edges to a binariser, and
    made Tesseract read a darker scan as all ink, and the table finder take the page's edge for a rule."""
    if abs(skew) < _MIN_SKEW:
        return image, 0.0
    pixels = np.asarray(image)
    height, width = pixels.shape[:2]
    matrix, size = straighten_matrix(width, height, skew)
    fill = paper_colour(pixels)
    turned = cv2.warpAffine(pixels, matrix, size, flags=cv2.INTER_LINEAR, borderValue=fill)
    return Image.fromarray(turned), skew
