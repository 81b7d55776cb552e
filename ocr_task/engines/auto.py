"""The ``auto`` engine's choice for one page: which engine, in which language.

PaddleOCR-VL when it is configured; otherwise the CPU engine that reads the
page's script: Tesseract for Latin and Cyrillic, RapidOCR's PP-OCR models for
Chinese, Japanese and Korean script. A language hint (``--lang``) overrides
the script that was detected.

Latin and Cyrillic pages both get the combined ``rus+eng`` model. Our users'
Russian pages carry English terms (vLLM, FastAPI, S3), and OSD's script comes
from a small sample: a Russian page whose sample hit the English words comes
out as Latin look-alikes with ``eng``. On English pages the combined model
costs a little accuracy and time: cheaper than being wrong (the figures for
this and what follows: bench/RESULTS.md).

Except on enlarged pages (faxes, small print): there the combined model takes
degraded Latin glyphs for Cyrillic look-alikes. A Latin page that was
enlarged is read with ``eng`` and checked by the result: a reading under
``LANGUAGE_CHECK_CONFIDENCE`` (a Russian page read with ``eng`` scores well
under it, right readings of the faxes well over) is read again with the
combined model and the more confident reading is kept. An
enlarged page read with the combined model whose reading is Latin but for a
few look-alikes (its script was not told, or OSD was fooled into turning it) is
read again with ``eng``, kept if that reading is confident.
"""

from __future__ import annotations

from ocr_task.config import OcrSettings
from ocr_task.engines import AUTO, PADDLE_VL, RAPIDOCR, TESSERACT
from ocr_task.orientation import CJK_SCRIPTS

# Tesseract languages by script; a script not told apart (a page with little text) gets both.
SCRIPT_LANGS = {"Latin": "rus+eng", "Cyrillic": "rus+eng"}
UNKNOWN_SCRIPT_LANG = "rus+eng"
LATIN_LANG = "eng"  # one script's model, where the combined one puts Cyrillic look-alikes into Latin text
ENLARGED_SCRIPT_LANGS = {"Latin": LATIN_LANG}  # a page enlarged for small text: one script's model, checked
LANGUAGE_CHECK_CONFIDENCE = 0.8
LATIN_MIN_LETTERS = 200  # a reading this long with (almost) no Cyrillic letter is a Latin page
# the Cyrillic look-alikes the combined model puts into a degraded English page (1.4 % of the letters of an
# English fax); a Russian page, English terms and all, is mostly Cyrillic
MAX_LOOKALIKE_SHARE = 0.03
_CJK_LANGS = {"chi_sim", "chi_tra", "jpn", "kor", "ch", "zh", "chinese_cht", "japan", "korean"}


def hint_is_cjk(lang: str) -> bool:
    return any(code in _CJK_LANGS for code in lang.split("+"))


def choose(settings: OcrSettings, script: str | None, enlarged: bool = False) -> tuple[str, str | None]:
    """(engine name, language) for a page whose detected script is ``script`` (``enlarged``: its text was
    too small and the page was enlarged)."""
    if settings.vl.enabled:
        return PADDLE_VL, settings.lang
    if settings.lang:
        return (RAPIDOCR, settings.lang) if hint_is_cjk(settings.lang) else (TESSERACT, settings.lang)
    if script in CJK_SCRIPTS:
        return RAPIDOCR, None
    if enlarged and script in ENLARGED_SCRIPT_LANGS:
        return TESSERACT, ENLARGED_SCRIPT_LANGS[script]
    return TESSERACT, SCRIPT_LANGS.get(script or "", UNKNOWN_SCRIPT_LANG)


def letters_of(text: str) -> tuple[int, int]:
    """(letters, of which Cyrillic) in ``text``."""
    letters = [c for c in text if c.isalpha()]
    return len(letters), sum("\u0400" <= c <= "\u04ff" for c in letters)


def script_read(text: str) -> str | None:
    """The script of a reading by the combined model: Cyrillic when most of its letters are, else Latin."""
    letters, cyrillic = letters_of(text)
    if not letters:
        return None
    return "Cyrillic" if 2 * cyrillic >= letters else "Latin"


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds a Chinese, Japanese or Korean character (ideograph, kana or hangul)."""
    return any("\u3040" <= c <= "\u30ff" or "\u3400" <= c <= "\u9fff" or "\uac00" <= c <= "\ud7af" for c in text)


def latin_only_language(settings: OcrSettings, engine: str, lang: str | None, scale: int, text: str) -> str | None:
    """``eng`` for an enlarged page that ``auto`` read with the combined model and that reads as Latin (but for
    look-alikes: its script was not told, or orientation detection was fooled); None otherwise."""
    if settings.engine != AUTO or settings.lang or engine != TESSERACT or scale < 2 or lang != UNKNOWN_SCRIPT_LANG:
        return None
    letters, cyrillic = letters_of(text)
    latin = letters >= LATIN_MIN_LETTERS and cyrillic <= MAX_LOOKALIKE_SHARE * letters
    return ENLARGED_SCRIPT_LANGS["Latin"] if latin else None


def language_to_check(settings: OcrSettings, engine: str, lang: str | None) -> str | None:
    """The combined language to read a page again with when ``auto`` chose one script's model for it and the
    reading is unsure; None when there is nothing to check (a hint, another engine, the combined model)."""
    if settings.engine != AUTO or settings.lang or engine != TESSERACT or lang == UNKNOWN_SCRIPT_LANG:
        return None
    return UNKNOWN_SCRIPT_LANG
