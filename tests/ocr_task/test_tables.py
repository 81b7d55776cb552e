"""Ruled tables read cell by cell with real Tesseract: a Markdown table, table blocks with cells, rows in .txt."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from ocr_task.result import markdown_table
from ocr_task.tables import find_tables
from tests import samples
from tests.conftest import read_in_one_batch, run_cli


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


# Pages with text around their tables, scanned as users scan them: grey (recycled) paper, a second table,
# text beside the table, a skew of 3 degrees.
AROUND_TABLES = {
    "grey-paper": (dict(), lambda image: samples.on_grey_paper(samples.scan_like(image, 3))),
    "two-tables": (dict(bank_table=True), lambda image: samples.on_grey_paper(samples.scan_like(image, 4))),
    "note-beside": (dict(note_beside=True), lambda image: samples.scan_like(image, 5)),
    "skewed-both": (
        dict(bank_table=True, note_beside=True),
        lambda image: samples.on_grey_paper(samples.scan_like(image, 6, skew=3.0), 0.85),
    ),
}


@pytest.fixture(scope="module")
def read_around_tables(tmp_path_factory):
    """Each page of ``AROUND_TABLES`` read in one batch: (the text drawn, the .txt, the page's JSON) by name."""
    folder = tmp_path_factory.mktemp("around-tables")
    truths = {}
    for name, (layout, scanned) in AROUND_TABLES.items():
        page = samples.invoice_page(**layout)
        scanned(page.image).save(folder / f"{name}.png")
        truths[name] = page.text
    read = read_in_one_batch(folder, [f"{name}.png" for name in AROUND_TABLES])
    return {name: (truth, *read[f"{name}.png"]) for name, truth in truths.items()}


@pytest.mark.parametrize("name", AROUND_TABLES)
def test_every_word_around_a_table_reaches_the_outputs_in_reading_order(read_around_tables, name):
    truth, text, document = read_around_tables[name]
    assert "Счёт № 417 от 12 марта 2024 года" in text  # the heading above the table: number and date
    assert "Итого к оплате: 21 382,00 руб." in text  # the total below it
    assert text.index("Счёт № 417") < text.index("Наименование") < text.index("Итого к оплате")
    assert samples.cer(truth, text) <= 0.02, (
        text
    )  # every word, in the order drawn (the note beside: after the table)
    [page] = document["pages"]
    assert [b["cells"] for b in page["blocks"] if b["label"] == "table"][-1] == samples.INVOICE_ROWS


def test_pages_without_ruled_tables_have_none(sample_docs):
    for name in ("english.png", "two_column.png", "russian_scan.jpg"):
        gray = np.asarray(Image.open(sample_docs[name].path).convert("L"))
        assert find_tables(gray) == [], name


def test_markdown_tables_escape_pipes():
    assert markdown_table([["a", "b"], ["1|2", ""]]) == "| a | b |\n|---|---|\n| 1\\|2 |  |"
