"""Real OCR on real images: every kind of document, read by the CPU default, against the text drawn."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ocr_task.config import OcrSettings
from ocr_task.contract import ManifestDocument
from ocr_task.documents import ImagePage
from ocr_task.orientation import OrientationDetector
from ocr_task.pipeline import UPRIGHT_CONFIDENCE, PagePipeline
from ocr_task.runner import BatchRunner
from tests import samples
from tests.conftest import run_cli
from tests.samples import cer

# The bounds: 2% on English scanned pages, 3% on Russian ones.
CER_BOUND = {"en": 0.02, "ru": 0.03, "zh": 0.02}
LANGUAGE = {
    "english.png": "en",
    "russian.png": "ru",
    "english scan.jpg": "en",
    "russian_scan.jpg": "ru",
    "two_column.png": "en",
    "sideways_90.png": "en",
    "upside_down.png": "ru",
    "sideways_270.webp": "en",
    "two_pages.tiff": "ru",  # English then Russian: held to the looser bound
    "scanned.pdf": "ru",
    "born_digital.pdf": "ru",
    "page.bmp": "en",
    "chinese.png": "zh",
}


@pytest.fixture(scope="module")
def batch(sample_docs, tmp_path_factory):
    """All samples in one batch on two worker processes, as the CLI runs them."""
    out = tmp_path_factory.mktemp("out")
    items = [ManifestDocument(source=str(sample.path)) for sample in sample_docs.values()]
    report = BatchRunner(OcrSettings(workers=2)).run(items, str(out))
    entries = {Path(e.source).name: e for e in report.documents}
    return report, entries, out


def test_every_document_succeeds(batch, sample_docs):
    report, entries, _ = batch
    assert set(entries) == set(sample_docs)
    assert {name: e.error for name, e in entries.items() if e.status != "succeeded"} == {}
    assert report.summary.failed == 0
    assert report.summary.pages == 16


@pytest.mark.parametrize("name", sorted(LANGUAGE))
def test_text_matches_what_was_drawn(batch, sample_docs, name):
    _, entries, _ = batch
    text = Path(entries[name].outputs.text).read_text()
    error = cer(sample_docs[name].text, text)
    assert error <= CER_BOUND[LANGUAGE[name]], f"{name}: CER {error:.2%}\n{text[:500]}"


@pytest.mark.parametrize(
    ("name", "rotation"), [("sideways_90.png", 90), ("upside_down.png", 180), ("sideways_270.webp", 270)]
)
def test_turned_pages_are_detected_and_recorded(batch, name, rotation):
    _, entries, _ = batch
    page = json.loads(Path(entries[name].outputs.json_).read_text())["pages"][0]
    assert page["rotation"] == rotation
    assert page["width"] < page["height"]  # upright A4 again
    # read as it came first: unsure, or (one way sideways) confident but in lines down the page
    assert page["orientation_check"]["detected_rotation"] == rotation
    assert "read_as_is" in page["orientation_check"]


def test_upright_pages_are_read_before_their_orientation_is_asked(sample_docs, monkeypatch):
    """Orientation detection (a spy on the real one) runs for the page that read unsurely, not the others."""
    asked = []
    detect = OrientationDetector.detect
    monkeypatch.setattr(OrientationDetector, "detect", lambda self, gray, **kw: asked.append(1) or detect(self, gray, **kw))
    names = ("english.png", "russian.png", "upside_down.png")
    pages = [ImagePage(i, np.asarray(Image.open(sample_docs[n].path)), 200) for i, n in enumerate(names)]
    results = PagePipeline(OcrSettings(workers=1)).process(pages)
    assert len(asked) == 1
    assert [r.orientation_check for r in results[:2]] == [None, None]
    assert [(r.script, r.rotation) for r in results] == [("Latin", 0), ("Cyrillic", 0), ("Cyrillic", 180)]
    assert results[2].orientation_check["read_as_is"] < UPRIGHT_CONFIDENCE
    for name, result in zip(names, results, strict=True):
        assert cer(sample_docs[name].text, result.text) <= CER_BOUND[LANGUAGE[name]]


def test_slight_skew_is_corrected_and_recorded(batch):
    _, entries, _ = batch
    page = json.loads(Path(entries["english scan.jpg"].outputs.json_).read_text())["pages"][0]
    # scan_like tilts the page 1.5 degrees counter-clockwise
    assert page["skew"] == pytest.approx(-1.5, abs=0.3)


def test_script_decides_the_language(batch):
    _, entries, _ = batch
    english = json.loads(Path(entries["english.png"].outputs.json_).read_text())["pages"][0]
    russian = json.loads(Path(entries["russian.png"].outputs.json_).read_text())["pages"][0]
    assert (english["script"], english["engine"]["name"]) == ("Latin", "tesseract")
    assert (russian["script"], russian["engine"]["name"]) == ("Cyrillic", "tesseract")
    assert "rus" in russian["engine"]["models"]


def test_chinese_script_goes_to_rapidocr(batch):
    _, entries, _ = batch
    page = json.loads(Path(entries["chinese.png"].outputs.json_).read_text())["pages"][0]
    assert (page["script"], page["engine"]["name"]) == ("Han", "rapidocr")
    assert page["orientation_check"]["read_as_is"] < UPRIGHT_CONFIDENCE  # Tesseract's first reading was unsure
    assert page["engine"]["models"] == ["PP-OCRv6_det_small", "PP-OCRv6_rec_small"]


def test_a_language_hint_overrides_the_detected_script(sample_docs, tmp_path):
    items = [ManifestDocument(source=str(sample_docs["english.png"].path))]
    report = BatchRunner(OcrSettings(workers=1, lang="rus")).run(items, str(tmp_path))
    page = json.loads(Path(report.documents[0].outputs.json_).read_text())["pages"][0]
    assert (page["script"], page["lang"], page["engine"]["models"]) == ("Latin", "rus", ["rus"])


def test_progress_is_logged_with_pages_per_second(sample_docs, tmp_path, caplog):
    items = [ManifestDocument(source=str(sample_docs[n].path)) for n in ("born_digital.pdf", "page.bmp")]
    with caplog.at_level("INFO", logger="ocr_task"):
        BatchRunner(OcrSettings(workers=1, progress_seconds=0.01)).run(items, str(tmp_path))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith(("progress:", "done:"))]
    assert lines[-1].startswith("done: documents 2/2 (0 failed), pages 3,")
    assert any(line.startswith("progress: documents 1/2") for line in lines)
    assert all(" pages/s, " in line for line in lines)


def test_text_layer_pages_are_read_not_ocrd(batch, sample_docs):
    _, entries, _ = batch
    document = json.loads(Path(entries["born_digital.pdf"].outputs.json_).read_text())
    first, second = document["pages"]
    assert first["source"] == "text-layer" and first["engine"]["name"] == "pdf-text-layer"
    assert second["source"] == "ocr" and second["engine"]["name"] == "tesseract"
    first_text = " ".join(block["text"] for block in first["blocks"])
    assert cer(sample_docs["born_digital.pdf"].first_page_text, first_text) == 0.0
    assert {e["name"] for e in document["engines"]} == {"pdf-text-layer", "tesseract"}


def test_json_holds_pages_blocks_and_boxes(batch):
    _, entries, _ = batch
    document = json.loads(Path(entries["two_pages.tiff"].outputs.json_).read_text())
    assert document["schema_version"] == "1.0"
    assert [p["index"] for p in document["pages"]] == [0, 1]
    for page in document["pages"]:
        assert page["width"] > 1000 and page["height"] > 1000 and page["dpi"] == 200
        assert page["blocks"], "no blocks"
        assert [b["order"] for b in page["blocks"]] == list(range(len(page["blocks"])))
        for block in page["blocks"]:
            x0, y0, x1, y1 = block["bbox"]
            assert 0 <= x0 < x1 <= page["width"] and 0 <= y0 < y1 <= page["height"]
            assert 0 < block["confidence"] <= 1 and block["text"]
        assert set(page["timings"]) >= {"prepare", "recognition"}
    assert document["engines"][0]["version"].startswith("5.")


def test_two_columns_read_column_by_column(batch, sample_docs):
    _, entries, _ = batch
    markdown = Path(entries["two_column.png"].outputs.markdown).read_text()
    assert markdown.startswith("<!-- page 1 -->\n\n# Two Column Bulletin")
    assert cer(sample_docs["two_column.png"].text, markdown.split("\n", 3)[3]) < 0.02


def test_text_and_markdown_separate_pages(batch):
    _, entries, _ = batch
    text = Path(entries["scanned.pdf"].outputs.text).read_text()
    assert text.count("\f") == 1
    markdown = Path(entries["scanned.pdf"].outputs.markdown).read_text()
    assert "<!-- page 1 -->" in markdown and "<!-- page 2 -->" in markdown


def test_report_entries_carry_figures_and_outputs(batch):
    report, entries, out = batch
    entry = entries["scanned.pdf"]
    assert entry.pages == 2 and entry.media_type == "application/pdf"
    assert entry.characters > 1000 and 0.8 < entry.mean_confidence <= 1
    assert entry.engines == [entries["english.png"].engines[0]]
    assert entry.outputs.json_ == str(out / "scanned.pdf.json")
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk["summary"] == report.summary.model_dump()
    assert on_disk["documents"][0]["outputs"]["json"].endswith(".json")


def test_a_russian_page_with_english_terms_keeps_its_cyrillic(tmp_path):
    """Our users' normal case: never Latin look-alikes (``PelweHue npo6nemp``) for ``Решение проблемы``."""
    page = samples.render_page(samples.MIXED_RU_EN, title="Решение проблемы")
    page.image.save(tmp_path / "mixed.png")
    result = run_cli("run", "--input", str(tmp_path / "mixed.png"), "--output", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    text = (tmp_path / "out" / "mixed.png.txt").read_text()
    assert "Решение проблемы" in text and "FastAPI" in text and "aws_default" in text
    assert cer(page.text, text) < 0.02
    assert json.loads((tmp_path / "out" / "mixed.png.json").read_text())["pages"][0]["lang"] == "rus+eng"
