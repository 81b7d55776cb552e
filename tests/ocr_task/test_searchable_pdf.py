"""The searchable PDF (``<name>.pdf``), read back as a viewer reads it: PDFium's text and character boxes, the
page's image streams, ``qpdf --check``. Real OCR through the CLI: one batch of every kind with the ``auto``
engine (Tesseract for Latin and Cyrillic, RapidOCR for Chinese), one of the Latin kinds with RapidOCR alone
(keys ``rapidocr:<name>``). PaddleOCR-VL's layer is checked in test_vl_server.py."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
import pytest
from PIL import Image
from rapidfuzz.distance import Levenshtein

from tests import samples
from tests.conftest import run_cli

SAMPLES = ["russian_scan.jpg", "english scan.jpg", "russian.png", "scanned.pdf", "sideways_90.png", "chinese.png"]
CCITT = "letter_g4.tif"
ROTATED_PDF = "rotated_page.pdf"
PHOTO = "photo.jpg"
# the same kinds read by RapidOCR alone (its Latin model; ``auto`` sends only Chinese pages to it)
RAPIDOCR = [f"rapidocr:{n}" for n in ("english scan.jpg", "scanned.pdf", CCITT, ROTATED_PDF, "sideways_90.png", PHOTO)]


@pytest.fixture(scope="module")
def read(sample_docs, tmp_path_factory) -> dict[str, tuple[Path, str, dict, Path]]:
    """Each document: its source, our .txt, our JSON and our PDF."""
    folder = tmp_path_factory.mktemp("searchable")
    for name in SAMPLES:
        shutil.copy(sample_docs[name].path, folder / name)
    # a bilevel scan as fax machines and document scanners store it: TIFF with CCITT Group 4
    bilevel = Image.open(sample_docs["english.png"].path).convert("1")
    bilevel.save(folder / CCITT, compression="group4", dpi=(200, 200), tiffinfo={278: bilevel.height})  # one strip
    # a PDF page stored sideways and shown upright by its /Rotate, as scanners write a landscape original
    with pikepdf.open(sample_docs["scanned.pdf"].path) as pdf:
        del pdf.pages[1:]
        pdf.pages[0].rotate(90, relative=False)
        pdf.save(folder / ROTATED_PDF)
    # a page photographed by a phone: the OCR step cuts it out of the photo and undoes its perspective
    samples.photo_like(samples.render_page(samples.paragraphs("en", 3, 2)).image, seed=2).save(folder / PHOTO)
    return {
        **_read_with(folder, "auto", [*SAMPLES, CCITT, ROTATED_PDF, PHOTO]),
        **_read_with(folder, "rapidocr", [n.removeprefix("rapidocr:") for n in RAPIDOCR]),
    }


def _read_with(folder: Path, engine: str, names: list[str]) -> dict[str, tuple[Path, str, dict, Path]]:
    """One CLI batch of ``names`` with ``engine``; keyed by name (``auto``) or ``engine:name``."""
    out = folder / f"out-{engine}"
    result = run_cli("run", "--engine", engine, "--input", *(str(folder / n) for n in names), "--output", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    read = {}
    for entry in json.loads((out / "report.json").read_text())["documents"]:
        assert entry["status"] == "succeeded" and entry["outputs"]["pdf"], entry
        outputs = entry["outputs"]
        key = Path(entry["source"]).name if engine == "auto" else f"{engine}:{Path(entry['source']).name}"
        read[key] = (
            Path(entry["source"]), Path(outputs["text"]).read_text(), json.loads(Path(outputs["json"]).read_text()),
            Path(outputs["pdf"]),
        )  # fmt: skip
    return read


def _normalised(text: str) -> str:
    return " ".join(text.split())


def _cer(got: str, want: str) -> float:
    got, want = _normalised(got), _normalised(want)
    return Levenshtein.distance(got, want) / max(len(want), 1)


ALL = [*SAMPLES, CCITT, ROTATED_PDF, PHOTO, *RAPIDOCR]


@pytest.mark.parametrize("name", ALL)
def test_the_pdfs_text_is_our_text(read, name):
    """PDFium on an upright page; Poppler in the PDF's own order (``-raw``) on every page: viewers order the
    lines of a page stored sideways by their position, each its own way."""
    _, text, document, pdf_path = read[name]
    assert _normalised(text), "nothing was read: the test would prove nothing"
    raw = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(pdf_path), "-"], capture_output=True, text=True)
    assert _cer(raw.stdout.replace("\f", " "), text.replace("\f", " ")) <= 0.01
    if all(p["rotation"] == 0 for p in document["pages"]) and ".pdf" not in name:
        with pdfium.PdfDocument(pdf_path) as pdf:
            extracted = " ".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
        assert _cer(extracted, text.replace("\f", " ")) <= 0.01


@pytest.mark.parametrize("name", ALL)
def test_qpdf_finds_the_pdf_sound_and_it_keeps_the_sources_pages_and_size(read, name):
    source, _, document, pdf_path = read[name]
    check = subprocess.run(["qpdf", "--check", str(pdf_path)], capture_output=True, text=True)
    assert check.returncode == 0 and "No syntax or stream encoding errors" in check.stdout, check.stdout + check.stderr
    with pikepdf.open(pdf_path) as ours:
        assert len(ours.pages) == len(document["pages"])
        if source.suffix == ".pdf":
            with pikepdf.open(source) as theirs:
                for mine, original in zip(ours.pages, theirs.pages, strict=True):
                    assert list(mine.mediabox) == list(original.mediabox)
                    assert int(mine.obj.get("/Rotate", 0)) == int(original.obj.get("/Rotate", 0))
    assert pdf_path.stat().st_size <= source.stat().st_size * 1.10 + 8_000


def _image_streams(pdf_path: Path) -> list[tuple[str, bytes]]:
    """Each page's images: their filter and their stream as stored (not decoded)."""
    with pikepdf.open(pdf_path) as pdf:
        return [
            ("+".join(image.filters), image.obj.read_raw_bytes())
            for page in pdf.pages for image in (pikepdf.PdfImage(x) for x in page.images.values())
        ]  # fmt: skip


def test_a_jpeg_is_embedded_as_the_same_jpeg(read):
    source, *_, pdf_path = read["russian_scan.jpg"]
    [(kind, stream)] = _image_streams(pdf_path)
    assert kind == "/DCTDecode" and stream == source.read_bytes()


def test_a_g4_tiff_stays_ccitt_with_its_own_data(read):
    source, *_, pdf_path = read[CCITT]
    [(kind, stream)] = _image_streams(pdf_path)
    with Image.open(source) as tiff:
        offsets, counts = tiff.tag_v2[273], tiff.tag_v2[279]  # StripOffsets, StripByteCounts: one strip
    assert len(offsets) == 1
    strip = source.read_bytes()[offsets[0] : offsets[0] + counts[0]]
    assert kind == "/CCITTFaxDecode" and stream == strip


@pytest.mark.parametrize("name", ["scanned.pdf", ROTATED_PDF, f"rapidocr:{ROTATED_PDF}"])
def test_a_pdfs_page_images_are_untouched(read, name):
    source, *_, pdf_path = read[name]
    assert _image_streams(pdf_path) == _image_streams(source)


def _words(page, each_character: bool = False) -> list[tuple[str, tuple[float, float, float, float]]]:
    """The page's words as a viewer selects them: runs of non-space characters, each with the union of its
    characters' boxes (PDF points, origin bottom left)."""
    textpage = page.get_textpage()
    words, current, box = [], "", None
    for i in range(textpage.count_chars()):
        char = textpage.get_text_range(i, 1)
        if each_character and current:
            words.append((current, box))
            current, box = "", None
        if char.isspace() or not char:
            if current:
                words.append((current, box))
            current, box = "", None
            continue
        left, bottom, right, top = textpage.get_charbox(i, loose=True)
        box = (left, bottom, right, top) if box is None else (
            min(box[0], left), min(box[1], bottom), max(box[2], right), max(box[3], top))
        current += char
    if current:
        words.append((current, box))
    return words


def _inside(inner, outer, slack: float = 1.5) -> bool:
    return (inner[0] >= outer[0] - slack and inner[1] >= outer[1] - slack
            and inner[2] <= outer[2] + slack and inner[3] <= outer[3] + slack)  # fmt: skip


def _line_boxes_on_page(page_json: dict, page_height_pt: float, stored_width_px: float) -> list[tuple[str, tuple]]:
    """Each OCR line's box in the PDF page's points, worked out here from the page's facts (independently of
    the code under test): pixels at the page's dpi; a page read turned by 90° clockwise was stored turned
    back, so an upright point (u, v) is (v, W - u) as stored, W the upright width."""
    k = 72 / page_json["dpi"]
    boxes = []
    for block in page_json["blocks"]:
        for line in block["lines"]:
            x0, y0, x1, y1 = line["bbox"]
            if page_json["rotation"] == 270:  # stored = upright turned 90° counter-clockwise
                width = page_json["width"]
                x0, y0, x1, y1 = y0, width - x1, y1, width - x0
            elif page_json["rotation"] == 90:  # stored = upright turned 90° clockwise: (u, v) is (H - v, u)
                height = page_json["height"]
                x0, y0, x1, y1 = height - y1, x0, height - y0, x1
            else:
                assert page_json["rotation"] == 0 and page_json["skew"] == 0 and page_json["scale"] == 1
            boxes.append((line["text"], (x0 * k, page_height_pt - y1 * k, x1 * k, page_height_pt - y0 * k)))
    return boxes


@pytest.mark.parametrize(
    "name", ["russian.png", CCITT, "sideways_90.png", "chinese.png", f"rapidocr:{CCITT}", "rapidocr:sideways_90.png"]
)
def test_each_word_in_the_pdf_lies_inside_the_box_the_ocr_gives_for_it(read, name):
    """Words as a viewer selects them (Chinese, written without spaces: each character)."""
    _, _, document, pdf_path = read[name]
    [page_json] = document["pages"]
    with pdfium.PdfDocument(pdf_path) as pdf:
        page = pdf[0]
        lines = _line_boxes_on_page(page_json, page.get_height(), page.get_width())
        words = _words(page, each_character=name == "chinese.png")
    assert len(words) >= 5
    for word, box in words:
        holders = [text for text, line in lines if _inside(box, line)]
        assert holders, f"{word!r} at {box} lies in no line's box"
        assert any(word in text.replace(" ", "") or word in text for text in holders), (word, holders)


# not RapidOCR's photo: it joins some words ("theinspection"), and a word's place along its line is then a
# character or two off at the ends (the line's box holds it: test_each_word_in_the_pdf_lies_inside…)
@pytest.mark.parametrize("name", ["russian_scan.jpg", "english scan.jpg", PHOTO, "rapidocr:english scan.jpg"])
def test_on_a_deskewed_scan_each_word_selects_that_word_on_the_image(read, name):
    """The scan is tilted, or the page photographed in perspective (the OCR step straightened or flattened it
    before reading): each word's box in the PDF, cut out of the image as stored and read on its own, holds that
    word. The longest words, where a misplaced box shows."""
    import tesserocr

    from ocr_task.tessdata import find_tessdata

    source, _, document, pdf_path = read[name]
    [page_json] = document["pages"]
    straightened = abs(page_json["skew"]) >= 0.5 or page_json["flattened"]
    assert straightened, "the page was neither straightened nor flattened: the test would prove nothing"
    with pdfium.PdfDocument(pdf_path) as pdf:
        height = pdf[0].get_height()
        words = sorted(_words(pdf[0]), key=lambda w: -len(w[0]))[:12]
    image = Image.open(source).convert("L")
    k = page_json["dpi"] / 72
    misread = []
    for word, (left, bottom, right, top) in words:
        crop = image.crop((round(left * k) - 4, round((height - top) * k) - 4, round(right * k) + 4, round((height - bottom) * k) + 4))
        seen = tesserocr.image_to_text(crop, lang="rus+eng", path=str(find_tessdata()), psm=tesserocr.PSM.SINGLE_LINE).strip()
        if Levenshtein.normalized_distance(word.strip(".,;:"), seen.strip(".,;:")) > 0.25:
            misread.append((word, seen))
    assert len(misread) <= 2, misread
