"""Sparse pages (map labels, a drawing's captions, a form with a few words): the reading kept on evidence.

A page with few letters gives Tesseract's orientation and script detection
too little to go on (on scanned map labels it said Arabic and Japanese),
Tesseract's page layout analysis misses labels scattered among a drawing's
lines, and its combined ``rus+eng`` model, with little text to judge by,
reads Latin labels as Cyrillic look-alikes (``Mugerre`` as ``Миоетге``).
RapidOCR's PP-OCR detector finds scattered text, and its recogniser reads
Latin and Chinese, not Cyrillic. So a sparse page bound for Tesseract has
its script decided by what was read: a reading whose letters are mostly
Latin is read again with ``eng`` (kept if at least as confident). Then it is
read by RapidOCR too, and the reading with more evidence is kept: a
confident Cyrillic reading by Tesseract is a Russian page (RapidOCR cannot
read it; where Tesseract's layout analysis missed the labels, the lines
RapidOCR's detector found are read by Tesseract one by one: the detector's
boxes, as its recogniser drops the lines it reads badly, every Cyrillic one);
otherwise RapidOCR's if it has clearly more letters read confidently
(``MARGIN``: on a one-line strip both read it, and Tesseract keeps the line
whole). OSD's script on a sparse page is a guess too: a page it called
Chinese or Japanese, on which RapidOCR read no such character (a Russian
map), is read as a sparse page of unknown script.
"""

from __future__ import annotations

from ocr_task.engines.auto import letters_of, script_read
from ocr_task.result import PageResult

SPARSE_LETTERS = 300  # a page with fewer letter-sized ink components is sparse (a page of print has thousands)
RUSSIAN_CONFIDENCE = 0.85  # a Cyrillic reading at least this confident is kept: the page is Russian
# labels read one by one in RapidOCR's boxes, mostly Cyrillic and at least this confident: Russian labels (RapidOCR
# reads them as Latin nonsense, confidently: 0.93)
RUSSIAN_LABELS_CONFIDENCE = 0.6
MARGIN = 1.15  # RapidOCR's reading is kept when its evidence is at least this many times Tesseract's


def evidence(result: PageResult) -> float:
    """Letters read, each weighted by the confidence of its block."""
    return sum((block.confidence or 0.0) * letters_of(block.text)[0] for block in result.blocks)


def reads_russian(result: PageResult, confidence: float = RUSSIAN_CONFIDENCE) -> bool:
    """A reading whose letters are mostly Cyrillic, at least ``confidence``: a Russian page (or, with
    ``RUSSIAN_LABELS_CONFIDENCE``, a Russian drawing's labels read one by one)."""
    return script_read(result.text) == "Cyrillic" and (result.mean_confidence or 0.0) >= confidence


def keeps_second_reading(first: PageResult, second: PageResult) -> bool:
    """Whether RapidOCR's reading (``second``) of a sparse page is kept over Tesseract's (``first``)."""
    if reads_russian(first):
        return False
    return evidence(second) > MARGIN * evidence(first)
