"""PaddleOCR-VL: everything around the GPU model, tested here; the model itself cannot run here.

No GPU and no model weights on this machine, so the pipeline object is a
STAND-IN (``StandInPaddleOCRVL``) that returns results shaped like
PaddleOCR-VL's documented output (``res.json["res"]["parsing_res_list"]``,
``res.markdown["markdown_texts"]``). Nothing it returns is presented as a
recognition result; the tests check our mapping, batching, configuration and
failure messages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from ocr_task.config import OcrSettings, VlSettings
from ocr_task.contract import ManifestDocument
from ocr_task.engines import paddle_vl
from ocr_task.engines.paddle_vl import PaddleOcrVlEngine, pipeline_arguments, to_recognition
from ocr_task.errors import EngineUnavailable
from ocr_task.provisioning import required_models
from ocr_task.runner import BatchRunner
from tests.conftest import run_cli


class StandInResult:
    """Shaped like a PaddleOCR-VL page result (paddlex PaddleOCRVLResult): .json and .markdown."""

    def __init__(self, page_index: int, width: int, height: int):
        self.json = {
            "res": {
                "input_path": None,
                "page_index": page_index,
                "width": width,
                "height": height,
                "parsing_res_list": [
                    {"block_label": "doc_title", "block_content": f"Stand-in title {page_index}", "block_bbox": [100.4, 80.6, 900.2, 140.0], "block_id": 0, "block_order": 1},
                    {"block_label": "text", "block_content": "stand-in paragraph", "block_bbox": [100, 200, 1500, 400], "block_id": 1, "block_order": 2},
                    {"block_label": "table", "block_content": "<table><tr><td>1</td></tr></table>", "block_bbox": [100, 450, 1500, 900], "block_id": 2, "block_order": 3},
                    {"block_label": "number", "block_content": "7", "block_bbox": [800, 2200, 830, 2230], "block_id": 3, "block_order": None},
                ],
            }
        }  # fmt: skip
        self.markdown = {
            "markdown_texts": f"# Stand-in title {page_index}\n\nstand-in paragraph",
            "markdown_images": {},
        }


class StandInPaddleOCRVL:
    """STAND-IN for paddleocr.PaddleOCRVL (needs a GPU and weights): records how it is built and called."""

    instances: list[StandInPaddleOCRVL] = []

    def __init__(self, **arguments):
        self.arguments = arguments
        self.calls: list[list[tuple[int, ...]]] = []
        StandInPaddleOCRVL.instances.append(self)

    def predict(self, inputs):
        assert isinstance(inputs, list) and all(isinstance(i, np.ndarray) and i.ndim == 3 for i in inputs)
        self.calls.append([i.shape for i in inputs])
        return [StandInResult(n, i.shape[1], i.shape[0]) for n, i in enumerate(inputs)]


@pytest.fixture
def model_home(tmp_path):
    """A models folder as `ocr_task models fetch` writes it (files are placeholders, never loaded)."""
    for version in ("v1", "v1.5", "v1.6"):
        for model in required_models(
            VlSettings(models_home=tmp_path, pipeline_version=version), for_fetch=True
        ):
            model.directory.mkdir(parents=True, exist_ok=True)
            (model.directory / "inference.yml").write_text("placeholder: stand-in\n")
    return tmp_path


@pytest.fixture
def stand_in(monkeypatch):
    StandInPaddleOCRVL.instances.clear()
    monkeypatch.setattr(paddle_vl, "_load_pipeline", lambda arguments: StandInPaddleOCRVL(**arguments))
    return StandInPaddleOCRVL


def test_missing_models_fail_at_once_with_how_to_provision_them(tmp_path):
    settings = OcrSettings(engine="paddleocr-vl", vl=VlSettings(models_home=tmp_path / "models"))
    with pytest.raises(EngineUnavailable) as failure:
        PaddleOcrVlEngine(settings)
    message = str(failure.value)
    assert "PP-DocLayoutV3: looked in " + str(tmp_path / "models" / "PP-DocLayoutV3") in message
    assert "PaddleOCR-VL-1.6-0.9B" in message and "OCR_VL_VL_REC_MODEL_DIR" in message
    assert "python -m ocr_task models fetch --dest DIR" in message
    assert "PADDLE_PDX_MODEL_SOURCE" in message and "OCR_VL_MODELS_HOME" in message


def test_cli_exits_1_with_the_message_before_touching_documents(tmp_path, sample_docs):
    result = run_cli(
        "run", "--input", str(sample_docs["english.png"].path), "--output", str(tmp_path / "out"),
        "--engine", "paddleocr-vl", env={"OCR_VL_MODELS_HOME": str(tmp_path / "none")},
    )  # fmt: skip
    assert result.returncode == 1
    assert "batch stopped: PaddleOCR-VL cannot load" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_models_check_command_lists_what_is_missing(tmp_path, model_home):
    missing = run_cli("models", "check", env={"OCR_VL_MODELS_HOME": str(tmp_path / "empty")})
    assert missing.returncode == 1 and "models fetch" in missing.stderr
    present = run_cli("models", "check", env={"OCR_VL_MODELS_HOME": str(model_home)})
    assert present.returncode == 0, present.stderr
    assert all(entry["present"] for entry in json.loads(present.stdout))


def test_models_fetch_says_what_it_needs(tmp_path):
    result = run_cli("models", "fetch", "--dest", str(tmp_path / "models"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    # this machine has no paddleocr (and no hub): either way the reason is spelled out
    assert "pip install 'paddleocr[doc-parser]'" in result.stderr or "needs internet access" in result.stderr


def test_a_hub_lookup_failure_becomes_the_provisioning_message(model_home, monkeypatch):
    def hub_failure(arguments):
        raise Exception(
            "No available model hosting platforms detected. Please check your network connection."
        )

    monkeypatch.setattr(paddle_vl, "_load_pipeline", hub_failure)
    with pytest.raises(EngineUnavailable, match="never downloads models at run time"):
        PaddleOcrVlEngine(OcrSettings(vl=VlSettings(models_home=model_home)))


def test_every_model_is_read_from_a_local_folder(model_home, stand_in):
    PaddleOcrVlEngine(
        OcrSettings(vl=VlSettings(models_home=model_home, device="gpu:1", pipeline_version="v1.5"))
    )
    arguments = stand_in.instances[0].arguments
    assert arguments["layout_detection_model_dir"] == str(model_home / "PP-DocLayoutV3")
    assert arguments["vl_rec_model_dir"] == str(model_home / "PaddleOCR-VL-1.5-0.9B")
    assert arguments["vl_rec_backend"] == "native" and arguments["device"] == "gpu:1"


def test_vllm_backend_sends_recognition_to_the_server(model_home, stand_in):
    vl = VlSettings(models_home=model_home, rec_backend="vllm-server", rec_server_url="http://vlm:8118/v1")
    arguments = pipeline_arguments(vl)
    assert arguments["vl_rec_backend"] == "vllm-server"
    assert arguments["vl_rec_server_url"] == "http://vlm:8118/v1"
    assert "vl_rec_model_dir" not in arguments  # the weights live on the server
    PaddleOcrVlEngine(OcrSettings(vl=vl))
    assert stand_in.instances[0].arguments == arguments


def test_pages_in_flight_default_to_four_per_core_the_process_may_use(tmp_path):
    """The default follows the cores of the machine (or the container's cpuset) the client runs on."""
    code = (
        "import os, sys, json\n"
        "os.sched_setaffinity(0, {0})\n"
        "from ocr_task.config import OcrSettings, VlSettings\n"
        "from ocr_task.runner import BatchRunner\n"
        "vl = VlSettings(rec_backend='vllm-server', rec_server_url='http://vlm:8118/v1')\n"
        "runner = BatchRunner(OcrSettings(engine='paddleocr-vl', vl=vl))\n"
        "print(json.dumps([vl.in_flight(), runner.workers, runner.chunk]))\n"
    )
    one_core = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                         check=True).stdout)
    assert one_core == [4, 4, 1]
    assert VlSettings(rec_max_concurrency=3).in_flight() == 3  # a setting wins
    cores = len(os.sched_getaffinity(0))
    assert VlSettings().in_flight() == min(32, 4 * cores)


def test_a_server_backend_without_its_url_is_refused(model_home):
    vl = VlSettings(models_home=model_home, rec_backend="sglang-server")
    with pytest.raises(EngineUnavailable, match="needs OCR_VL_REC_SERVER_URL"):
        PaddleOcrVlEngine(OcrSettings(vl=vl))


def test_result_maps_onto_our_schema():
    recognition = to_recognition(
        StandInResult(0, 1654, 2339), paddle_vl.EngineInfo("paddleocr-vl", "3.7.0", [])
    )
    labels = [(b.order, b.label, b.bbox) for b in recognition.blocks]
    assert labels == [
        (0, "doc_title", (100, 81, 900, 140)),
        (1, "text", (100, 200, 1500, 400)),
        (2, "table", (100, 450, 1500, 900)),
        (3, "number", (800, 2200, 830, 2230)),
    ]
    assert recognition.markdown.startswith("# Stand-in title 0")
    assert all(b.confidence is None for b in recognition.blocks)


def test_batch_passes_pages_in_batches_to_one_pipeline(model_home, stand_in, sample_docs, tmp_path):
    settings = OcrSettings(
        engine="paddleocr-vl", workers=2, vl=VlSettings(models_home=model_home, batch_pages=2)
    )
    items = [
        ManifestDocument(source=str(sample_docs[n].path)) for n in ("scanned.pdf", "two_pages.tiff", "sideways_90.png")
    ]
    report = BatchRunner(settings).run(items, str(tmp_path))
    assert report.summary.failed == 0 and report.summary.pages == 5
    assert len(stand_in.instances) == 1  # loaded once for the batch, in one process
    assert [len(call) for call in stand_in.instances[0].calls] == [2, 2, 1]
    assert all(h > w for call in stand_in.instances[0].calls for h, w, _ in call)  # turned upright first
    document = json.loads((tmp_path / "sideways_90.png.json").read_text())
    page = document["pages"][0]
    assert page["engine"]["name"] == "paddleocr-vl" and page["rotation"] == 90
    assert [b["label"] for b in page["blocks"]] == ["doc_title", "text", "table", "number"]
    markdown = (tmp_path / "scanned.pdf.md").read_text()
    assert "<!-- page 2 -->\n\n# Stand-in title 1" in markdown


def test_auto_engine_routes_to_paddle_vl_when_enabled(model_home, stand_in, sample_docs, tmp_path):
    settings = OcrSettings(vl=VlSettings(models_home=model_home, enabled=True))
    report = BatchRunner(settings).run([ManifestDocument(source=str(sample_docs["born_digital.pdf"].path))], str(tmp_path))
    pages = json.loads((tmp_path / "born_digital.pdf.json").read_text())["pages"]
    assert report.summary.failed == 0
    assert [p["engine"]["name"] for p in pages] == ["pdf-text-layer", "paddleocr-vl"]
