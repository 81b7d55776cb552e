"""The ``auto`` engine's choice for one page: which engine, in which language.

PaddleOCR-VL when it is configured; otherwise the CPU engine that reads the
page's script: Tesseract for Latin and Cyrillic, RapidOCR's PP-OCR models for
Chinese, Japanese and Korean script. A language hint (``--lang``) overrides
the script that was detected.

Latin and Cyrillic pages both get the combined ``rus+eng`` model. Our users'
Russian pages carry English terms (vLLM, FastAPI, S3), and OSD's script comes
from a small sample: a Russian page whose sample hit the English words came
out as Latin look-alikes with ``eng`` (59 % CER; 0.6 % with ``rus+eng``).
Measured on English pages, the combined model costs about 0.1 % CER and 10 %
time: cheaper than being wrong.
"""

from __future__ import annotations

from ocr_task.config import OcrSettings
from ocr_task.engines import PADDLE_VL, RAPIDOCR, TESSERACT
from ocr_task.orientation import CJK_SCRIPTS

# Tesseract languages by script; a script not told apart (a page with little text) gets both.
SCRIPT_LANGS = {"Latin": "rus+eng", "Cyrillic": "rus+eng"}
UNKNOWN_SCRIPT_LANG = "rus+eng"
_CJK_LANGS = {"chi_sim", "chi_tra", "jpn", "kor", "ch", "zh", "chinese_cht", "japan", "korean"}


def hint_is_cjk(lang: str) -> bool:
    return any(code in _CJK_LANGS for code in lang.split("+"))


def choose(settings: OcrSettings, script: str | None) -> tuple[str, str | None]:
    """(engine name, language) for a page whose detected script is ``script``."""
    if settings.vl.enabled:
        return PADDLE_VL, settings.lang
    if settings.lang:
        return (RAPIDOCR, settings.lang) if hint_is_cjk(settings.lang) else (TESSERACT, settings.lang)
    if script in CJK_SCRIPTS:
        return RAPIDOCR, None
    return TESSERACT, SCRIPT_LANGS.get(script or "", UNKNOWN_SCRIPT_LANG)
