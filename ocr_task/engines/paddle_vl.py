"""PaddleOCR-VL (``paddleocr.PaddleOCRVL``): the production GPU engine.

Its VLM part runs on PaddlePaddle (``native``) or on a vLLM / SGLang /
FastDeploy server (``vl_rec_backend`` + ``vl_rec_server_url``). One pipeline
per process, reused for the batch (an instance is not thread-safe), pages
passed in batches. Every model is read from a local folder: missing models
fail at once with a message that says how to provision them offline.
"""

from __future__ import annotations

import os
import tempfile
import threading
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from ocr_task.config import OcrSettings, VlSettings
from ocr_task.engines import PADDLE_VL
from ocr_task.engines.base import Engine, Recognition, to_bgr
from ocr_task.errors import EngineUnavailable
from ocr_task.provisioning import missing_models_message, required_models
from ocr_task.result import Block, EngineInfo

_HUB_FAILURES = ("No available model hosting platforms detected", "Could not prepare the official model")
# What paddlex's VLM worker says when the server cannot be reached at all (openai.APIConnectionError), by
# the exception's class anywhere in its chain or, where paddlex re-raised it as text, by its words.
_UNREACHABLE_TYPES = {"APIConnectionError", "APITimeoutError", "ConnectError", "ConnectTimeout", "ReadTimeout"}
_UNREACHABLE = ("Connection error", "Connection refused", "ConnectError", "Request timed out")


def server_unreachable(error: BaseException) -> bool:
    """Whether an exception from predict() means the VLM server did not answer (no page is to blame).

    A server that answered with an error (vLLM's 500, 503 or 429) is not this: its pages fail retryably, and
    the runner fails the batch when that hits many of them (``runner.check_outage``)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if type(error).__name__ in _UNREACHABLE_TYPES or any(text in str(error) for text in _UNREACHABLE):
            return True
        error = error.__cause__ or error.__context__
    return False


def offline_environment(vl: VlSettings) -> None:
    """PaddleX must not look for a model hub (and must not wait ~30 s on four of them), nor write its
    cache into the home folder: every model it loads is local, or on the VLM server."""
    os.environ.setdefault("PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK", "True")
    cache = vl.models_home or Path(tempfile.gettempdir()) / "ocr-task-paddlex"
    os.environ.setdefault("PADDLE_PDX_CACHE_HOME", str(cache))


def pipeline_arguments(vl: VlSettings) -> dict:
    """PaddleOCRVL constructor arguments for these settings, every model from a local folder."""
    arguments = {
        "pipeline_version": vl.pipeline_version,
        "device": vl.device,
        "vl_rec_backend": vl.rec_backend,
        "use_doc_orientation_classify": vl.use_doc_orientation_classify,
        "use_doc_unwarping": vl.use_doc_unwarping,
        "use_layout_detection": vl.use_layout_detection,
    }
    if vl.uses_server:
        # One page per predict() from each client worker: PaddleX's internal queues would only add their
        # polling (about 0.5 s a call, measured) to every page, for no pipelining gained.
        arguments["use_queues"] = False
        arguments["vl_rec_server_url"] = vl.rec_server_url
        arguments["vl_rec_max_concurrency"] = vl.in_flight()
        if vl.rec_api_model_name:
            arguments["vl_rec_api_model_name"] = vl.rec_api_model_name
        if vl.rec_api_key:
            arguments["vl_rec_api_key"] = vl.rec_api_key
    for model in required_models(vl):
        arguments[f"{model.role}_model_name"] = model.name
        arguments[f"{model.role}_model_dir"] = str(model.directory)
    return arguments


_LOAD = threading.Lock()


def _load_pipeline(arguments: dict):
    """Construct the real pipeline (paddleocr is imported here so the rest works without it).

    PaddleX's server clients share one asyncio loop per process, started on
    first use: threads building pipelines at once would each start one (and
    bind their clients to a loop that is then replaced), so the loop is
    started once, under a lock, before any client is built. (The OCR step's
    client workers are processes with one pipeline each; the lock keeps any
    other caller safe.)
    """
    try:
        from paddleocr import PaddleOCRVL
    except ImportError as error:
        raise EngineUnavailable(
            "paddleocr is not installed: pip install 'paddleocr[doc-parser]' and paddlepaddle-gpu 3.x from "
            "https://www.paddlepaddle.org.cn/packages/stable/cu126/ (see docker/ocr-task/Dockerfile)"
        ) from error
    if arguments.get("vl_rec_server_url"):
        from paddlex.inference.models.common.genai import start_aio_loop

        with _LOAD:
            start_aio_loop()
    return PaddleOCRVL(**arguments)


def to_recognition(result, info: EngineInfo) -> Recognition:
    """Map one page of PaddleOCR-VL output onto our model.

    ``result.json["res"]["parsing_res_list"]`` holds the page's blocks in
    reading order (label, bbox, content, order); ``result.markdown`` the
    page's Markdown. Blocks without an order (headers, footers, page
    numbers) keep their place but are labelled as such.
    """
    res = result.json["res"]
    blocks = []
    for position, item in enumerate(res.get("parsing_res_list", [])):
        x0, y0, x1, y1 = (int(round(v)) for v in item["block_bbox"])
        blocks.append(
            Block(
                order=position,
                label=item.get("block_label") or "text",
                bbox=(x0, y0, x1, y1),
                text=(item.get("block_content") or "").strip(),
                confidence=None,  # the VLM gives no per-block score
            )
        )
    markdown = result.markdown
    page_markdown = markdown.get("markdown_texts") if isinstance(markdown, dict) else None
    return Recognition(info, None, blocks=blocks, markdown=page_markdown)


class PaddleOcrVlEngine(Engine):
    name = PADDLE_VL
    finds_tables = True  # its layout model and VLM give tables as HTML
    # The VLM's image processor scales every page to its own pixel budget (min_pixels/max_pixels): a page
    # enlarged for small text would only cost its enlarging (a 3x page: 35 megapixels) and a larger JPEG.
    wants_small_text_enlarged = False

    def __init__(self, settings: OcrSettings, threads: int = 1):
        vl = settings.vl
        self.wants_upright_pages = not vl.use_doc_orientation_classify
        if vl.uses_server and not vl.rec_server_url:
            raise EngineUnavailable(
                f"OCR_VL_REC_BACKEND={vl.rec_backend} needs OCR_VL_REC_SERVER_URL (e.g. http://vlm:8118/v1)"
            )
        models = required_models(vl)
        missing = [m for m in models if not m.present]
        if missing:
            raise EngineUnavailable(missing_models_message(missing))
        offline_environment(vl)
        self._server_url = vl.rec_server_url if vl.uses_server else None
        try:
            self._pipeline = _load_pipeline(pipeline_arguments(vl))
        except EngineUnavailable:
            raise
        except Exception as error:  # noqa: BLE001 - any load failure stops the batch
            if any(text in str(error) for text in _HUB_FAILURES):
                raise EngineUnavailable(missing_models_message(models, cause=str(error))) from error
            raise EngineUnavailable(f"PaddleOCR-VL failed to load: {error}") from error
        try:
            engine_version = version("paddleocr")
        except PackageNotFoundError:
            engine_version = "unknown"
        self._info = EngineInfo(self.name, engine_version, [m.name for m in models])

    def info(self) -> EngineInfo:
        return self._info

    def recognize(self, images: list[np.ndarray], lang: str | None) -> list[Recognition]:
        inputs = [to_bgr(image) for image in images]
        try:
            results = self._pipeline.predict(inputs)
        except Exception as error:
            if self._server_url and server_unreachable(error):
                # no document is to blame: the batch stops (exit code 1) and the launcher retries it
                raise EngineUnavailable(f"the VLM server at {self._server_url} cannot be reached: {error}") from error
            raise
        return [to_recognition(result, self._info) for result in results]
