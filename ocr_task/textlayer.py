"""A PDF page's own text layer: its lines as a viewer's copy and paste gives them, and whether it can be text.

The lines are pdfium's own text extraction (what a viewer's copy and paste
gives): pdfium joins glyphs placed one by one into words, drops a glyph drawn
twice on itself (the "fake bold" of some producers), follows kerning and
rotated lines, and marks line breaks. Each line's box is the union of its
characters' boxes; a gap wider than one and a half ems (a column gutter)
splits it.

A layer is used only if it is text a person would read off the page. Cheap
checks come first (:func:`layer_fault`): unmapped glyph codes (control,
private-use or replacement characters), UTF-16 read with its bytes swapped
(``䴀甀氀琀椀挀漀氀漀爀`` for "Multicolor"), words that mix scripts (glyph
codes that happen to be letters). A layer that passes them is then compared
with a quick OCR of a few of its lines (``layer_sample``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ocr_task.reading_order import union_box
from ocr_task.result import BBox, Line

_MAX_UNMAPPED_SHARE = 0.1  # of the layer's visible characters
_MAX_SWAPPED_SHARE = (
    0.3  # characters U+xx00 above U+00FF: one in 256 in real CJK text, nearly all when swapped
)
_MAX_MIXED_WORD_SHARE = 0.15  # of the words of two letters or more
_MAX_WORD_GAP = (
    1.5  # in ems: a wider gap between two characters of a line is a column gutter (justified text's
)
# word spaces reach about 1 em)
_BREAKS = "\r\n"


@dataclass
class TextLayer:
    """A page's text layer in page pixels; ``fault`` says why it cannot be the page's text (None: it may be)."""

    lines: list[Line]
    text: str
    fault: str | None


def read_text_layer(page: pdfium.PdfPage, scale: float, min_chars: int) -> TextLayer | None:
    """The page's text layer (``scale`` = pixels per point), or None if it has fewer than ``min_chars``
    visible characters (glyph codes count: a layer of them is reported as faulty)."""
    textpage = page.get_textpage()
    try:
        text = textpage.get_text_range()
        if sum(not ch.isspace() for ch in text) < min_chars:
            return None
        lines = _lines(textpage, page.get_height(), scale)
        return TextLayer(lines, text, layer_fault(text))
    finally:
        textpage.close()


def _lines(textpage: pdfium.PdfTextPage, page_height: float, scale: float) -> list[Line]:
    """pdfium's characters, in its order, cut into lines at its line breaks and at wide gaps."""
    lines: list[Line] = []
    chars: list[str] = []
    boxes: list[BBox] = []

    def close() -> None:
        words = " ".join("".join(chars).split())
        if words and boxes:
            lines.append(Line(bbox=union_box(boxes), text=words, confidence=1.0))
        chars.clear()
        boxes.clear()

    for index in range(textpage.count_chars()):
        ch = chr(pdfium_c.FPDFText_GetUnicode(textpage, index))
        if ch in _BREAKS:
            close()
            continue
        left, bottom, right, top = textpage.get_charbox(index)
        box = (
            round(left * scale),
            round((page_height - top) * scale),
            round(right * scale),
            round((page_height - bottom) * scale),
        )
        if ch.isspace() or box[2] <= box[0]:
            chars.append(" ")
            continue
        if boxes and _gutter_between(boxes[-1], box, pdfium_c.FPDFText_GetFontSize(textpage, index) * scale):
            close()
        chars.append(ch)
        boxes.append(box)
    close()
    return lines


def _gutter_between(previous: BBox, box: BBox, em: float) -> bool:
    """Whether a gap wider than ``_MAX_WORD_GAP`` ems separates ``box`` from the character before it."""
    if box[3] - box[1] > 2 * max(box[2] - box[0], 1):  # a line set up or down the page
        return False
    return box[0] - previous[2] > _MAX_WORD_GAP * max(em, 1)


_ALPHABETS = ("LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "GEORGIAN")  # scripts a word is written in one of


def _alphabet(ch: str) -> str | None:
    """A letter's alphabet as Unicode names it; None for letters of scripts that words mix freely (CJK, kana)."""
    script = unicodedata.name(ch, "UNKNOWN").split()[0]
    return script if script in _ALPHABETS else None


def layer_fault(text: str) -> str | None:
    """Why ``text`` cannot be what a person reads on the page, or None if it may be."""
    visible = [ch for ch in text if not ch.isspace()]
    if not visible:
        return "the text layer has no visible characters"
    unmapped = sum(ch == "\ufffd" or unicodedata.category(ch) in ("Cc", "Co", "Cs") for ch in visible)
    if unmapped > _MAX_UNMAPPED_SHARE * len(visible):
        return (
            f"the text layer holds glyph codes, not characters: {unmapped} of its {len(visible)} characters are "
            "control, private-use or replacement characters (a font without a Unicode map)"
        )
    swapped = sum(ord(ch) > 0xFF and ord(ch) & 0xFF == 0 for ch in visible)
    if swapped > _MAX_SWAPPED_SHARE * len(visible):
        return (
            f"the text layer reads as UTF-16 with its bytes swapped: {swapped} of its {len(visible)} characters "
            "are U+xx00 code points (a broken Unicode map)"
        )
    words = [w for w in text.split() if sum(ch.isalpha() for ch in w) >= 2]
    mixed = sum(len({_alphabet(ch) for ch in w if ch.isalpha()} - {None}) > 1 for w in words)
    if words and mixed > _MAX_MIXED_WORD_SHARE * len(words):
        return (
            f"{mixed} of the text layer's {len(words)} words mix letters of different scripts: glyph codes that "
            "happen to be letters, not text"
        )
    return None
