"""PaddleOCR-VL with its VLM on a server, through the real ``paddleocr`` client (``.venv-vl``: paddleocr
[doc-parser] without PaddlePaddle), against a STAND-IN for the vLLM server (``tests/vl_standin_server.py``:
it replaces only the GPU model). Layout detection is off: it needs a local model this machine cannot have.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests import samples
from tests.conftest import REPO
from tests.service_process import Service
from tests.vl_standin_server import StandInVlmServer, answer_for, brightness

VL_PYTHON = REPO / ".venv-vl" / "bin" / "python"
SERVED_NAME = "paddleocr-vl-served"


def gray_page(level: int, label: str) -> Image.Image:
    """A page whose brightness on the stand-in's 0-20 scale is ``level``: it tells the pages' answers apart."""
    page = Image.new("L", (850, 1100), round(level / 20 * 255))
    ImageDraw.Draw(page).text((60, 60), label, fill=0 if level > 10 else 255)
    assert brightness(page) == level
    return page.convert("RGB")


@pytest.fixture
def server():
    standin = StandInVlmServer()
    yield standin
    standin.close()


@pytest.fixture(scope="module")
def documents(tmp_path_factory) -> Path:
    """A PDF with a text-layer page and two scanned pages (levels 4 and 16), and an image (level 10)."""
    folder = tmp_path_factory.mktemp("vl-docs")
    samples.text_layer_pdf(
        samples.paragraphs("ru", 2, seed=3), folder / "mixed.pdf", title="Договор",
        scanned_pages=[gray_page(4, "scan one"), gray_page(16, "scan two")],
    )  # fmt: skip
    gray_page(10, "photo").save(folder / "photo.png")
    return folder


def vl_env(server: StandInVlmServer, **extra) -> dict[str, str]:
    return {
        "OCR_ENGINE": "paddleocr-vl",
        "OCR_VL_REC_BACKEND": "vllm-server",
        "OCR_VL_REC_SERVER_URL": server.url,
        "OCR_VL_USE_LAYOUT_DETECTION": "false",
        "OCR_VL_REC_API_MODEL_NAME": SERVED_NAME,
        "OCR_VL_MODELS_HOME": "/nonexistent",  # nothing may be read from a model folder
        **extra,
    }


def run_vl_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    assert VL_PYTHON.exists(), f"{VL_PYTHON} is missing: `make install` creates it"
    import os

    return subprocess.run(
        [str(VL_PYTHON), "-m", "ocr_task", *args], capture_output=True, text=True, cwd=REPO,
        env={**os.environ, **env}, timeout=300,
    )  # fmt: skip


def test_the_cli_sends_each_ocr_page_to_the_server_and_writes_its_answers_in_page_order(server, documents, tmp_path):
    result = run_vl_cli("run", "--input", str(documents), "--output", str(tmp_path), env=vl_env(server))
    assert result.returncode == 0, result.stderr[-3000:]

    # one request per page that needs OCR (not the text-layer page), each a JPEG, with the configured model
    assert sorted(r.level for r in server.requests) == [4, 10, 16]
    assert {(r.model, r.prompt, r.image_format) for r in server.requests} == {(SERVED_NAME, "OCR:", "image/jpeg")}
    body = server.requests[0].body
    assert body["temperature"] == 0 and body["max_completion_tokens"] == 4096 and "mm_processor_kwargs" in body

    pdf_text = (tmp_path / "mixed.pdf.txt").read_text()
    pages = pdf_text.split("\f")
    assert len(pages) == 3 and "Договор" in pages[0]
    assert pages[1].strip() == answer_for(4) and pages[2].strip() == answer_for(16)
    document = json.loads((tmp_path / "mixed.pdf.json").read_text())
    assert [p["engine"]["name"] if isinstance(p["engine"], dict) else p["engine"] for p in document["pages"]][1:] == [
        "paddleocr-vl", "paddleocr-vl"]  # fmt: skip
    assert document["pages"][2]["blocks"][0]["text"] == answer_for(16)
    assert answer_for(10) in (tmp_path / "photo.png.md").read_text()

    # the searchable PDF: the VLM's blocks (no lines) spread over their boxes; the text-layer page keeps its own
    import pypdfium2 as pdfium
    from rapidfuzz.distance import Levenshtein

    raw = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(tmp_path / "mixed.pdf.pdf"), "-"],
                         capture_output=True, text=True).stdout  # fmt: skip
    for ours, theirs in zip(raw.split("\f"), pages, strict=False):
        assert Levenshtein.distance(" ".join(ours.split()), " ".join(theirs.split())) <= 0.01 * len(theirs.strip()) + 1
    with pdfium.PdfDocument(tmp_path / "mixed.pdf.pdf") as ours, pdfium.PdfDocument(documents / "mixed.pdf") as source:
        assert ours[0].get_textpage().count_chars() == source[0].get_textpage().count_chars()  # no second layer


def test_the_auto_engine_routes_ocr_pages_to_the_vlm_when_enabled(server, documents, tmp_path):
    env = vl_env(server, OCR_ENGINE="auto", OCR_VL_ENABLED="true")
    result = run_vl_cli("run", "--input", str(documents / "mixed.pdf"), "--output", str(tmp_path), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(r.level for r in server.requests) == [4, 16]
    pages = (tmp_path / "mixed.pdf.txt").read_text().split("\f")
    assert [p.strip() for p in pages[1:]] == [answer_for(4), answer_for(16)]


def test_a_page_of_small_print_goes_to_the_vlm_at_its_own_size(server, tmp_path):
    """Enlarging small text is for Tesseract: the VLM's processor scales every page to its own pixel budget."""
    fax = samples.fax_like(samples.render_page(samples.paragraphs("en", 3, seed=5), dpi=100, point_size=9), seed=5)
    fax.save(tmp_path / "fax.png")
    result = run_vl_cli("run", "--input", str(tmp_path / "fax.png"), "--output", str(tmp_path / "out"),
                        env=vl_env(server))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    [request] = server.requests
    width, height = request.image_size  # straightened (a little larger), not enlarged
    assert fax.width <= width < fax.width * 1.1 and fax.height <= height < fax.height * 1.1
    [page] = json.loads((tmp_path / "out" / "fax.png.json").read_text())["pages"]
    assert page["scale"] == 1 and page["blocks"][0]["text"] == answer_for(request.level)


def sent_page(request) -> Image.Image:
    """The page image a request carried."""
    [url] = [p["image_url"]["url"] for p in request.body["messages"][-1]["content"] if p["type"] == "image_url"]
    return Image.open(io.BytesIO(base64.b64decode(url.partition(",")[2]))).convert("L")


def difference(a: Image.Image, b: Image.Image) -> float:
    size = (120, 170)
    return float(np.abs(np.asarray(a.resize(size), float) - np.asarray(b.resize(size), float)).mean())


def test_turned_scans_reach_the_vlm_upright_turned_by_the_page_classifier(server, tmp_path):
    """PaddleOCR's page orientation classifier turns PaddleOCR-VL's pages: it tells no script (OSD would have
    said Cyrillic), and each page the server gets is the upright page, not upside down."""
    page = samples.render_page(samples.paragraphs("ru", 6, seed=4), lang="ru")
    upright = samples.scan_like(page.image, 4).convert("L")
    for turn in (90, 180, 270):
        samples.turned(upright, turn).save(tmp_path / f"turned_{turn}.png")
    result = run_vl_cli("run", "--input", *(str(tmp_path / f"turned_{t}.png") for t in (90, 180, 270)),
                        "--output", str(tmp_path / "out"), env=vl_env(server))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(server.requests) == 3
    for request in server.requests:
        sent = sent_page(request)
        assert sent.width < sent.height
        assert difference(sent, upright) < 0.75 * difference(sent, upright.rotate(180))  # straightened: not equal
    for turn in (90, 180, 270):
        [read] = json.loads((tmp_path / "out" / f"turned_{turn}.png.json").read_text())["pages"]
        assert (read["rotation"], read["script"]) == (turn, None)


def test_a_server_that_is_down_stops_the_batch_with_exit_1_naming_its_url(documents, tmp_path):
    down = StandInVlmServer()
    url = down.url
    down.close()
    env = vl_env(down) | {"OCR_VL_REC_SERVER_URL": url}
    result = run_vl_cli("run", "--input", str(documents / "photo.png"), "--output", str(tmp_path), env=env)
    assert result.returncode == 1, result.stderr[-3000:]
    assert f"the VLM server at {url} cannot be reached" in result.stderr


@pytest.mark.parametrize("failure", ["fail_levels", "garbage_levels"])
def test_a_page_the_server_answers_badly_fails_its_document_alone(server, documents, tmp_path, failure):
    getattr(server, failure).add(16)  # the PDF's last page: HTTP 500, or a body that is not a completion
    result = run_vl_cli("run", "--input", str(documents), "--output", str(tmp_path), env=vl_env(server))
    assert result.returncode == 3, result.stderr[-3000:]
    report = {Path(e["source"]).name: e for e in json.loads((tmp_path / "report.json").read_text())["documents"]}
    assert report["photo.png"]["status"] == "succeeded"
    assert report["mixed.pdf"]["status"] == "failed"
    assert report["mixed.pdf"]["error"].startswith("recognition failed")


def test_a_server_answering_503_to_every_page_fails_the_batch_not_the_documents(server, documents, tmp_path):
    server.overloaded = 10**6
    result = run_vl_cli("run", "--input", str(documents), "--output", str(tmp_path), env=vl_env(server))
    assert result.returncode == 1, result.stderr[-3000:]
    assert "not theirs" in result.stderr and "the batch is retried" in result.stderr
    assert not (tmp_path / "report.json").exists()  # nothing recorded: the launcher retries the batch


def test_the_service_uses_the_same_backend(server, documents):
    service = Service(vl_env(server, OCR_SERVICE_CONCURRENCY="1"), python=str(VL_PYTHON))
    try:
        assert service.wait_for("/ready", 200).json()["ready"] is True
        with open(documents / "photo.png", "rb") as f:
            response = service.client.post("/v1/ocr", files={"file": ("photo.png", f)})
    finally:
        service.stop()
    assert response.status_code == 200, response.text
    assert response.json()["text"].strip() == answer_for(10)
    assert [(r.model, r.level) for r in server.requests] == [(SERVED_NAME, 10)]


def test_only_the_models_the_configuration_loads_are_required(server):
    """Server backend (no local VLM weights) and no layout detection (no layout model): nothing to provision."""
    result = run_vl_cli("models", "check", env=vl_env(server))
    assert result.returncode == 0, result.stdout + result.stderr
    with_layout = run_vl_cli("models", "check", env=vl_env(server, OCR_VL_USE_LAYOUT_DETECTION="true"))
    assert with_layout.returncode != 0 and "PP-DocLayoutV3" in with_layout.stdout + with_layout.stderr
    assert "PaddleOCR-VL-1.6-0.9B" not in with_layout.stdout + with_layout.stderr  # it runs on the server
