"""PDF text layers from odd producers: used only when they are what the page shows, rebuilt as a viewer copies them.

Real Tesseract and pdfium on PDFs broken as they are in the wild (tests/broken_pdfs.py), in one batch.
"""

from __future__ import annotations

import pytest

from tests import broken_pdfs, samples
from tests.conftest import read_in_one_batch

# name: (how it is made, whether its layer is the page's text)
LAYERS = {
    "swapped-utf16": (lambda p: broken_pdfs.swapped_utf16_pdf(p), False),
    "no-unicode-map": (lambda p: broken_pdfs.unmapped_font_pdf(p), False),
    "glyph-codes-as-letters": (lambda p: broken_pdfs.wrong_map_pdf(p), False),
    "wrong-latin-letters": (
        lambda p: broken_pdfs.wrong_map_pdf(p, alphabet="qwertyuiopasdfghjklzxcvbnm"),
        False,
    ),
    "wrong-russian-letters": (
        lambda p: broken_pdfs.wrong_map_pdf(
            p, broken_pdfs.LINES_RU, alphabet="йцукенгшщзхфывапролджэячсмитьбю"
        ),
        False,
    ),
    "glyph-by-glyph": (lambda p: broken_pdfs.glyph_by_glyph_pdf(p), True),
    "glyph-by-glyph-russian": (lambda p: broken_pdfs.glyph_by_glyph_pdf(p, broken_pdfs.LINES_RU), True),
    "drawn-twice-kerned-rotated": (
        lambda p: broken_pdfs.glyph_by_glyph_pdf(p, twice=True, rotated=True),
        True,
    ),
}


@pytest.fixture(scope="module")
def read_layers(tmp_path_factory):
    """Every kind of ``LAYERS`` read in one batch: (the lines drawn, the .txt, the page's JSON) by name."""
    folder = tmp_path_factory.mktemp("layers")
    drawn = {name: make(folder / f"{name}.pdf") for name, (make, _) in LAYERS.items()}
    read = read_in_one_batch(folder, [f"{name}.pdf" for name in LAYERS])
    return {name: (lines, *read[f"{name}.pdf"]) for name, lines in drawn.items()}


@pytest.mark.parametrize("name", LAYERS)
def test_the_outputs_hold_the_words_a_person_reads_on_the_page(read_layers, name):
    lines, text, _ = read_layers[name]
    for line in lines:
        assert samples.normalise(line) in samples.normalise(text), (line, text)
    assert samples.cer("\n".join(lines), text) <= 0.05, text


@pytest.mark.parametrize("name", [n for n, (_, real) in LAYERS.items() if not real])
def test_a_garbage_text_layer_is_not_used_and_the_page_says_why(read_layers, name):
    _, _, document = read_layers[name]
    [page] = document["pages"]
    assert page["source"] == "ocr" and page["engine"]["name"] == "tesseract"
    check = page["text_layer_check"]
    assert check["used"] is False
    expected = {
        "swapped-utf16": "bytes swapped",
        "no-unicode-map": "glyph codes, not characters",
        "glyph-codes-as-letters": "mix letters of different scripts",
    }.get(name, "not what the page shows")
    assert expected in check["reason"], check


@pytest.mark.parametrize("name", [n for n, (_, real) in LAYERS.items() if real])
def test_a_layer_drawn_glyph_by_glyph_is_used_with_its_words_whole(read_layers, name):
    lines, text, document = read_layers[name]
    [page] = document["pages"]
    assert page["source"] == "text-layer", page["text_layer_check"]
    assert page["text_layer_check"]["used"] is True and page["text_layer_check"]["sample_similarity"] >= 0.9
    assert "Payed 2017-Jan-22" in text or "Итого к оплате" in text
    assert "T e" not in text and "Te Te" not in text  # neither spaced out nor doubled
