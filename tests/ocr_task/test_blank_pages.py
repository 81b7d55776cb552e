"""Pages with nothing to read never fail a document: they are pages with no text, marked blank."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from tests import samples
from tests.conftest import run_cli


@pytest.mark.parametrize("engine", ["auto", "tesseract", "rapidocr"])
def test_a_pdf_whose_last_page_is_blank_and_has_no_text_layer(tmp_path, engine):
    blank = Image.new("L", (1654, 2339), 255)  # a plain white page, as a scanner or a PDF export leaves it
    text = samples.text_layer_pdf(samples.paragraphs("en", 2, seed=8), tmp_path / "letter.pdf", scanned_pages=[blank])
    result = run_cli("run", "--input", str(tmp_path / "letter.pdf"), "--output", str(tmp_path / "out"), "--engine", engine)
    assert result.returncode == 0, result.stderr[-2000:]
    document = json.loads((tmp_path / "out" / "letter.pdf.json").read_text())
    first, last = document["pages"]
    assert last["blank"] is True and last["blocks"] == [] and last["source"] == "ocr"
    assert first["blank"] is False
    assert samples.cer(text, (tmp_path / "out" / "letter.pdf.txt").read_text()) < 0.02
