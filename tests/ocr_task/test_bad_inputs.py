"""Bad input never crashes a batch and never loses the other documents."""

from __future__ import annotations

import json
import resource
import time

from ocr_task.config import OcrSettings
from ocr_task.contract import ManifestDocument
from ocr_task.documents import open_document
from ocr_task.errors import DocumentError
from ocr_task.runner import BatchRunner
from tests.conftest import run_cli
from tests.ocr_task.bad_inputs import png_bomb, write_bad_inputs


def test_each_bad_document_fails_with_its_reason_and_the_others_succeed(tmp_path, sample_docs):
    expected = write_bad_inputs(tmp_path, sample_docs["english.png"].path)
    good = [sample_docs["english.png"].path, sample_docs["born_digital.pdf"].path]
    items = [ManifestDocument(source=str(p)) for p in good] + [ManifestDocument(source=str(tmp_path / n)) for n in expected]
    items.append(ManifestDocument(source=str(tmp_path / "never-written.png")))

    report = BatchRunner(OcrSettings(workers=1, max_pages=3)).run(items, str(tmp_path / "out"))

    by_name = {e.name: e for e in report.documents}
    for name, message in expected.items():
        assert by_name[name].status == "failed", name
        assert message in by_name[name].error, f"{name}: {by_name[name].error}"
        assert by_name[name].outputs is None
    assert by_name["never-written.png"].error.startswith("file not found")
    for path in good:
        assert by_name[path.name].status == "succeeded"
        assert (tmp_path / "out" / f"{path.name}.txt").is_file()
    assert report.summary.failed == len(expected) + 1 and report.summary.succeeded == 2
    assert [e.source for e in report.documents] == [i.source for i in items]  # input order kept


def test_bomb_is_refused_from_its_header_without_decoding(tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb(100_000, 100_000))  # 10 gigapixels: 10 GB if decoded
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    document = open_document(bomb, "bomb.png", OcrSettings())
    try:
        next(document.pages())
        raise AssertionError("a 10-gigapixel image was decoded")
    except DocumentError as error:
        assert "100000x100000" in str(error) and "refused before decoding" in str(error)
    assert time.perf_counter() - started < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB: nothing decoded


def test_limits_are_configurable(tmp_path, sample_docs):
    image = sample_docs["english.png"].path
    small = OcrSettings(max_pixels=1_000_000)
    try:
        next(open_document(image, image.name, small).pages())
        raise AssertionError("the pixel limit was not applied")
    except DocumentError as error:
        assert "the limit is 1000000 (OCR_MAX_PIXELS)" in str(error)
    big = tmp_path / "big.png"
    big.write_bytes(image.read_bytes() + b"\0" * (2 * 1024 * 1024))
    try:
        open_document(big, big.name, OcrSettings(max_file_mb=1))
        raise AssertionError("the size limit was not applied")
    except DocumentError as error:
        assert "the limit is 1 MB (OCR_MAX_FILE_MB)" in str(error)


def test_cli_exit_code_3_when_some_documents_fail(tmp_path, sample_docs):
    expected = write_bad_inputs(tmp_path, sample_docs["english.png"].path)
    good = sample_docs["born_digital.pdf"].path
    result = run_cli(
        "run",
        "--input",
        str(good),
        str(tmp_path / "empty.pdf"),
        str(tmp_path / "notes.docx"),
        "--output",
        str(tmp_path / "out"),
    )
    assert result.returncode == 3, result.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [d["status"] for d in report["documents"]] == ["succeeded", "failed", "failed"]
    assert report["documents"][1]["error"] == expected["empty.pdf"]
    assert "1 of 3 documents succeeded" in result.stdout
