"""Offline provisioning of PaddleOCR-VL's models.

At run time the OCR step never downloads weights: every model the pipeline
uses must already be in a folder (baked into the image or mounted). This
module says which models a configuration needs, where it looks for them,
what is missing and how to fix it, and fetches them on a machine that has
internet (``python -m ocr_task models fetch --dest DIR``).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ocr_task.config import VlSettings

# Model names of each pipeline version (paddlex/configs/pipelines/PaddleOCR-VL*.yaml).
_VERSION_MODELS = {
    "v1": {"layout_detection": "PP-DocLayoutV2", "vl_rec": "PaddleOCR-VL-0.9B"},
    "v1.5": {"layout_detection": "PP-DocLayoutV3", "vl_rec": "PaddleOCR-VL-1.5-0.9B"},
    "v1.6": {"layout_detection": "PP-DocLayoutV3", "vl_rec": "PaddleOCR-VL-1.6-0.9B"},
}
_PREPROCESSOR_MODELS = {"doc_orientation_classify": "PP-LCNet_x1_0_doc_ori", "doc_unwarping": "UVDoc"}


@dataclass(frozen=True)
class RequiredModel:
    role: str  # the PaddleOCRVL argument prefix: "layout_detection", "vl_rec", ...
    name: str
    directory: Path

    @property
    def setting(self) -> str:
        return f"OCR_VL_{self.role.upper()}_MODEL_DIR"

    @property
    def present(self) -> bool:
        return self.directory.is_dir() and any(self.directory.iterdir())


def paddlex_cache() -> Path:
    home = os.environ.get("PADDLE_PDX_CACHE_HOME") or Path.home() / ".paddlex"
    return Path(home) / "official_models"


def _cached_dir(name: str) -> Path:
    # paddlex caches "PaddleOCR-VL-1.5-0.9B" as "PaddleOCR-VL-1.5"
    return paddlex_cache() / (name.replace("-0.9B", "") if "PaddleOCR-VL" in name else name)


def required_models(vl: VlSettings, *, for_fetch: bool = False) -> list[RequiredModel]:
    """The models this configuration loads locally, each with the folder it will be read from.

    With a VLM server backend the recognition model runs on the server, and
    with layout detection off no layout model is loaded, so only what is
    left is needed here; ``for_fetch`` lists them all.
    """
    roles = dict(_VERSION_MODELS[vl.pipeline_version])
    if vl.uses_server and not for_fetch:
        roles.pop("vl_rec")
    if not vl.use_layout_detection and not for_fetch:
        roles.pop("layout_detection")
    for role, name in _PREPROCESSOR_MODELS.items():
        if getattr(vl, f"use_{role}") or for_fetch:
            roles[role] = name
    models = []
    for role, default_name in roles.items():
        name = getattr(vl, f"{role}_model_name") or default_name
        explicit = getattr(vl, f"{role}_model_dir")
        if explicit:
            directory = Path(explicit)
        elif vl.models_home:
            directory = Path(vl.models_home) / name
        else:
            directory = _cached_dir(name)
        models.append(RequiredModel(role, name, directory))
    return models


def missing_models_message(missing: list[RequiredModel], cause: str | None = None) -> str:
    lines = [
        "PaddleOCR-VL cannot load: its model files are not on this machine"
        + (f" ({cause})" if cause else "")
        + ", and the OCR step never downloads models at run time.",
        "Missing:",
    ]
    lines += [
        f"  - {m.name}: looked in {m.directory} (set {m.setting} or OCR_VL_MODELS_HOME)" for m in missing
    ]
    lines += [
        "To provision them offline:",
        "  1. on a machine with internet: python -m ocr_task models fetch --dest DIR"
        " (PADDLE_PDX_MODEL_SOURCE=huggingface|modelscope|aistudio|bos picks the hub);",
        "  2. copy DIR here (or mount it into the container) and set OCR_VL_MODELS_HOME=DIR,"
        " or each OCR_VL_<ROLE>_MODEL_DIR;",
        "  or build the image with the models inside: docker build --build-arg BAKE_MODELS=1 -f docker/ocr-task/Dockerfile .",
    ]
    return "\n".join(lines)


class FetchError(Exception):
    """The models could not be fetched; the message says why and what to do."""


def fetch(dest: Path, vl: VlSettings) -> list[Path]:
    """Download every model of the pipeline version into ``dest/<model name>`` (needs internet)."""
    try:
        from paddlex.inference.utils.official_models import official_models
    except ImportError as error:
        raise FetchError(
            "fetching models needs PaddleOCR on this machine: pip install 'paddleocr[doc-parser]'"
        ) from error
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for model in required_models(vl, for_fetch=True):
        try:
            source = Path(official_models[model.name])
        except Exception as error:  # noqa: BLE001 - paddlex raises bare Exceptions for hub failures
            raise FetchError(
                f"could not download {model.name}: {error}. This command needs internet access to a model hub "
                "(PADDLE_PDX_MODEL_SOURCE=huggingface|modelscope|aistudio|bos)."
            ) from error
        target = dest / model.name
        shutil.copytree(source, target, dirs_exist_ok=True)
        written.append(target)
    return written
