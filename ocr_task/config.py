"""Settings of the OCR step: environment variables ``OCR_*``, overridden by CLI flags."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ocr_task.engines import EngineName

VlBackend = Literal["native", "vllm-server", "sglang-server", "fastdeploy-server"]
SERVER_BACKENDS = {"vllm-server", "sglang-server", "fastdeploy-server"}
CLIENTS_PER_CORE = 4  # VLM client workers per core by default (measured: bench/vl_client.py)
MAX_DEFAULT_CLIENTS = 32


def available_cores() -> int:
    """Cores this process may run on (respects CPU affinity, e.g. a container's cpuset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class VlSettings(BaseSettings):
    """PaddleOCR-VL (``paddleocr.PaddleOCRVL``). Environment: ``OCR_VL_*``."""

    model_config = SettingsConfigDict(env_prefix="OCR_VL_", extra="ignore")

    enabled: bool = Field(False, description="Route the auto engine's OCR pages to PaddleOCR-VL")
    pipeline_version: Literal["v1", "v1.5", "v1.6"] = "v1.6"
    device: str = "gpu:0"
    batch_pages: int = Field(8, ge=1, description="Pages passed to one predict() call")
    models_home: Path | None = Field(
        None, description="Folder with one sub-folder per model, as `ocr_task models fetch` writes it"
    )
    # Each model's name defaults to the pipeline version's own; each dir to models_home/<name>.
    layout_detection_model_name: str | None = None
    layout_detection_model_dir: Path | None = None
    vl_rec_model_name: str | None = None
    vl_rec_model_dir: Path | None = None
    doc_orientation_classify_model_name: str | None = None
    doc_orientation_classify_model_dir: Path | None = None
    doc_unwarping_model_name: str | None = None
    doc_unwarping_model_dir: Path | None = None
    use_doc_orientation_classify: bool = False
    use_doc_unwarping: bool = False
    use_layout_detection: bool = Field(
        True, description="Layout detection (PP-DocLayout, a local model): blocks, tables, reading order. "
        "Off: each page is one block read by the VLM alone"
    )
    rec_backend: VlBackend = "native"
    rec_server_url: str | None = None
    rec_max_concurrency: int = Field(
        0, ge=0, description="With a server backend: pages this OCR step keeps in flight at the VLM server; "
        f"0 = {CLIENTS_PER_CORE} per core available, at most {MAX_DEFAULT_CLIENTS}"
    )
    rec_api_model_name: str | None = Field(
        None, description="The model name the server serves (vLLM --served-model-name); default the pipeline's"
    )
    rec_api_key: str | None = Field(None, description="Bearer key of the VLM server, if it asks for one")

    def in_flight(self) -> int:
        """Client workers, one page in flight each. Each costs the client about 0.1 s of CPU a page (preparing
        and encoding it), so a core keeps a few pages waiting on the server: on 2 cores, 8 did as well as 12
        or 16 and 24 did worse (bench/RESULTS.md)."""
        return self.rec_max_concurrency or min(MAX_DEFAULT_CLIENTS, CLIENTS_PER_CORE * available_cores())

    @property
    def uses_server(self) -> bool:
        """The VLM runs on a server: this process only sends it pages (no local VLM weights, no GPU)."""
        return self.rec_backend in SERVER_BACKENDS


class OcrSettings(BaseSettings):
    """Everything the OCR step can be told. Environment: ``OCR_*``."""

    model_config = SettingsConfigDict(env_prefix="OCR_", extra="ignore")

    engine: EngineName = "auto"
    lang: str | None = Field(None, description="Language hint, Tesseract style: 'rus+eng', 'eng', 'chi_sim'")

    dpi: int = Field(200, ge=50, le=600)
    workers: int = Field(0, ge=0, description="Worker processes for OCR pages; 0 = cores available")
    max_pages: int = Field(1000, ge=1)
    max_pixels: int = Field(
        100_000_000, ge=1, description="Largest image or rendered page, in pixels (decompression bombs)"
    )
    max_file_mb: int = Field(512, ge=1)
    min_confidence: float = Field(
        0.6, ge=0, le=1, description="A document whose mean recognition confidence is lower is flagged low_confidence"
    )
    min_text_layer_chars: int = Field(
        16,
        ge=1,
        description="A PDF page with at least this many characters in its text layer has one: it is used instead "
        "of OCR if it passes the checks of ocr_task/textlayer.py",
    )
    tessdata_dir: Path | None = None
    batch_failure_share: float = Field(
        0.5, gt=0, le=1,
        description="A batch in which more than this share of the documents failed for causes that are not "
        "theirs (S3 AccessDenied, SlowDown, a server error, the engine) fails as a batch (exit code 1, "
        "retried) instead of reporting them one by one",
    )
    progress_seconds: float = Field(10.0, gt=0, description="How often a batch logs its progress")
    searchable_pdf: bool = Field(
        True, description="Write <name>.pdf beside the text: the document as it came with an invisible text layer"
    )
    vl: VlSettings = Field(default_factory=VlSettings)

    def worker_count(self) -> int:
        return self.workers or available_cores()
