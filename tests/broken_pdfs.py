"""PDFs whose text layer is not what the page shows, or is drawn in pieces: as odd producers make them.

Each function writes a one-page PDF with fpdf2 (a real TrueType font, a real
ToUnicode map) and, where the fault is in the file's objects, breaks it with
pikepdf the way producers break them in the wild:

* ``swapped_utf16_pdf``: the ToUnicode map's code points byte-swapped
  ("Multicolor" comes out as ``䴀甀氀琀椀挀漀氀漀爀``);
* ``unmapped_font_pdf``: the font's ToUnicode map removed (pdfium falls back
  to glyph codes: control characters);
* ``wrong_map_pdf``: a map that sends glyphs to the wrong letters (glyph
  codes read as letters: ``эчоча`` for "Phone");
* ``glyph_by_glyph_pdf``: each character its own text object at its own
  position, and optionally drawn twice, a fraction of a point apart (the
  "fake bold" of some report writers), with kerning (character spacing) and
  a rotated line.

Every function returns the text a person reads off the page, line by line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pikepdf
from fpdf import FPDF

from tests import samples

LINES = [
    "Multicolor Print Services",
    "Phone 0471 22 33 44",
    "Invoice 2017-118 Payed 2017-Jan-22",
    "Thank you for your order.",
]
LINES_RU = ["Счёт на оплату № 117", "Поставщик ООО Ромашка", "Итого к оплате 17 110,00 руб."]


def _page(lines: list[str]) -> FPDF:
    pdf = FPDF(format="A4")
    pdf.add_font("DejaVu", "", str(samples.find_font(lang="ru")))
    pdf.set_font("DejaVu", size=16)
    pdf.add_page()
    for i, line in enumerate(lines):
        pdf.text(25, 40 + 14 * i, line)
    return pdf


def _fonts(pdf: pikepdf.Pdf):
    for page in pdf.pages:
        yield from page.Resources.Font.values()


def swapped_utf16_pdf(path: Path, lines: list[str] = LINES) -> list[str]:
    """The ToUnicode map gives each character with its two bytes swapped (U+0041 "A" as U+4100 "䄀")."""
    _page(lines).output(str(path))
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        for font in _fonts(pdf):
            cmap = font.ToUnicode.read_bytes().decode("latin-1")
            # each "<code> <unicode>" entry of the map: the unicode's two bytes swapped
            swapped = re.sub(r"(?m)^(<[0-9A-F]{4}> )<([0-9A-F]{2})([0-9A-F]{2})>$", r"\1<\3\2>", cmap)
            font.ToUnicode.write(swapped.encode("latin-1"))
        pdf.save(path)
    return lines


def wrong_map_pdf(path: Path, lines: list[str] = LINES, alphabet: str = "эчоаbcфdeыgh") -> list[str]:
    """The ToUnicode map sends each glyph to a letter of ``alphabet`` by its code: the layer is all letters,
    none of them the page's (by default Latin and Cyrillic mixed, as glyph codes of subset fonts come out)."""
    _page(lines).output(str(path))
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        for font in _fonts(pdf):
            cmap = font.ToUnicode.read_bytes().decode("latin-1")

            def letter(match: re.Match) -> str:
                code = int(match.group(1), 16)
                return f"<{match.group(1)}> <{ord(alphabet[code % len(alphabet)]):04X}>"

            font.ToUnicode.write(
                re.sub(r"(?m)^<([0-9A-F]{4})> <[0-9A-F]{4}>$", letter, cmap).encode("latin-1")
            )
        pdf.save(path)
    return lines


def unmapped_font_pdf(path: Path, lines: list[str] = LINES) -> list[str]:
    """The font has no ToUnicode map: the text layer holds glyph codes, not characters."""
    _page(lines).output(str(path))
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        for font in _fonts(pdf):
            del font.ToUnicode
        pdf.save(path)
    return lines


def glyph_by_glyph_pdf(
    path: Path, lines: list[str] = LINES, *, twice: bool = False, rotated: bool = False
) -> list[str]:
    """Each glyph placed on its own (words are only gaps between glyphs), with extra character spacing on the
    last line (kerning); ``twice``: every glyph drawn again 0.2 pt to the right; ``rotated``: one more line
    set at 90 degrees up the left margin."""
    pdf = FPDF(format="A4")
    pdf.add_font("DejaVu", "", str(samples.find_font(lang="ru")))
    pdf.set_font("DejaVu", size=16)
    pdf.add_page()
    for i, line in enumerate(lines):
        spacing = 0.6 if i == len(lines) - 1 else 0.0
        x, y = 25.0, 40 + 14 * i
        for ch in line:
            if ch != " ":
                pdf.text(x, y, ch)
                if twice:
                    pdf.text(x + 0.07, y, ch)
            x += pdf.get_string_width(ch) + spacing
    drawn = list(lines)
    if rotated:
        side = "Archive copy 2017"
        with pdf.rotation(90, x=12, y=200):
            pdf.text(12, 200, side)
        drawn.insert(0, side)  # left of all the other text: read first, as a column to its left is
    pdf.output(str(path))
    return drawn
