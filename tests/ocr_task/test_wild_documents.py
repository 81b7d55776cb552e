"""Real scans nobody here made (OCRmyPDF's test resources, see tests/wild.py), read by the CLI with real OCR.

Each bound is under what OCRmyPDF 17.13 (Tesseract 5.5, ``--force-ocr --rotate-pages --deskew -l eng``)
scored on the same files against the same transcriptions: the leaflet 0.015-0.025 CER, the typewriter page
0.025 (bench/RESULTS.md).
"""

from __future__ import annotations

import shutil

import pytest

from ocr_task.lookalikes import has_cyrillic
from tests import samples, wild
from tests.conftest import read_in_one_batch

LEAFLET = ("linn.pdf", "ccitt.pdf", "jbig2.pdf", "skew.pdf", "rotated_skew.pdf")  # two columns of 9-point print
TYPEWRITER = "typewriter.png"  # letters of 34 pixels
MAP = "baiona.png"  # place names among a map's roads and rivers


@pytest.fixture(scope="module")
def read_wild(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wild")
    names = [*LEAFLET, TYPEWRITER, MAP]
    for name in names:
        shutil.copy(wild.resources() / name, folder / name)
    return read_in_one_batch(folder, names)


@pytest.mark.parametrize("name", LEAFLET)
def test_a_two_column_leaflet_reads_better_than_plain_tesseract_in_every_copy(read_wild, name):
    text, document = read_wild[name]
    assert samples.cer(wild.truth(name), text) < 0.01, text
    # the combined rus+eng model read "be" and "or" as Cyrillic look-alikes; read again with eng
    assert not has_cyrillic(text), [line for line in text.splitlines() if has_cyrillic(line)]
    assert document["pages"][0]["language_check"]["lookalikes"]["words_replaced"] >= 1


def test_a_typewriter_page_of_large_letters_is_read_whole_at_a_smaller_size(read_wild):
    text, document = read_wild[TYPEWRITER]
    page = document["pages"][0]
    assert page["scale"] < 1, page  # reduced: Tesseract read its 34-pixel letters worse (0.05 CER)
    read = [line for line in text.splitlines() if line.strip()]
    for line in filter(str.strip, wild.truth(TYPEWRITER).splitlines()):  # every line is there
        assert min(samples.cer(line, other) for other in read) < 0.2, (line, text)
    assert samples.cer(wild.truth(TYPEWRITER), text) < 0.02, text


def test_every_place_name_of_a_map_is_read_in_latin_letters(read_wild):
    text, document = read_wild[MAP]
    for label in wild.truth(MAP).splitlines():
        assert samples.normalise(label).split(":")[0] in samples.normalise(text), (label, text)
    assert not has_cyrillic(text), text  # the date was read as "времена"
    assert document["pages"][0]["language_check"]["kept"], document["pages"][0]
