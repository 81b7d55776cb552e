"""Ruled tables read cell by cell with real Tesseract: a Markdown table, table blocks with cells, rows in .txt."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from ocr_task.result import markdown_table
from ocr_task.tables import find_tables
from tests import samples
from tests.conftest import run_cli


def test_a_ruled_russian_invoice_becomes_a_markdown_table(tmp_path):
    invoice = samples.invoice_page()
    samples.scan_like(invoice.image, seed=3).save(tmp_path / "invoice.png")  # tilted 1.5 degrees, noisy

    result = run_cli("run", "--input", str(tmp_path / "invoice.png"), "--output", str(tmp_path / "out"))

    assert result.returncode == 0, result.stderr[-2000:]
    page = json.loads((tmp_path / "out" / "invoice.png.json").read_text())["pages"][0]
    assert [b["label"] for b in page["blocks"]] == ["text", "table", "text"]  # in reading order
    assert page["blocks"][1]["cells"] == samples.INVOICE_ROWS
    markdown = (tmp_path / "out" / "invoice.png.md").read_text()
    assert markdown_table(samples.INVOICE_ROWS) in markdown
    assert markdown.index("Счёт № 417") < markdown.index("| № |") < markdown.index("Итого к оплате")
    text = (tmp_path / "out" / "invoice.png.txt").read_text()
    assert "2\tКартридж лазерный\t2\t5 450,00\t10 900,00" in text  # a row per line, no borders read as "|"
    assert samples.cer(invoice.text, text) <= 0.02


def test_pages_without_ruled_tables_have_none(sample_docs):
    for name in ("english.png", "two_column.png", "russian_scan.jpg"):
        gray = np.asarray(Image.open(sample_docs[name].path).convert("L"))
        assert find_tables(gray) == [], name


def test_markdown_tables_escape_pipes():
    assert markdown_table([["a", "b"], ["1|2", ""]]) == "| a | b |\n|---|---|\n| 1\\|2 |  |"
