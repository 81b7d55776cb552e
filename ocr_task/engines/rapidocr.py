"""RapidOCR: PP-OCR detection and recognition as ONNX models that ship inside the ``rapidocr`` wheel.

Reads Latin and Chinese scripts, not Cyrillic. Uses onnxruntime's threads,
so a process is given its share of the cores (``threads``).
"""

from __future__ import annotations

from importlib.metadata import version

import numpy as np

from ocr_task.config import OcrSettings
from ocr_task.engines import RAPIDOCR
from ocr_task.engines.base import Engine, Recognition, to_bgr
from ocr_task.errors import EngineUnavailable
from ocr_task.result import BBox, EngineInfo, Line

MODELS = ["PP-OCRv6_det_small", "PP-OCRv6_rec_small"]
# The detector enlarges an image until its shorter side is this long: a one-line crop of 760 × 75 became
# 7,456 × 736 pixels and took 1.4 s to detect. Past this much enlargement it reads the image as it is (small
# print has been enlarged already, ``ocr_task.resolution``).
DETECTOR_SHORT_SIDE = 736
MAX_DETECTOR_ENLARGEMENT = 2.0


class RapidOcrEngine(Engine):
    name = RAPIDOCR

    def __init__(self, settings: OcrSettings, threads: int = 1):
        try:
            from rapidocr import RapidOCR
        except ImportError as error:
            raise EngineUnavailable("rapidocr is not installed: pip install 'ocr-ingest[cpu]'") from error
        params = {
            "Global.log_level": "warning",
            # pages are turned upright before they get here; per-line 180° checks cost time for nothing
            "Global.use_cls": False,
            "EngineConfig.onnxruntime.intra_op_num_threads": max(1, threads),
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        try:
            self._engine = RapidOCR(params=params)
        except Exception as error:  # noqa: BLE001 - any load failure stops the batch
            raise EngineUnavailable(f"RapidOCR could not load its bundled models: {error}") from error
        self._info = EngineInfo(self.name, version("rapidocr"), MODELS)

    def info(self) -> EngineInfo:
        return self._info

    def recognize(self, images: list[np.ndarray], lang: str | None) -> list[Recognition]:
        return [Recognition(self._info, lang, lines=self._read(image)) for image in images]

    def find_lines(self, image: np.ndarray) -> list[BBox]:
        """The boxes of the text lines the detector finds, whatever their script: the recogniser drops the lines
        it reads with a low score, such as every Cyrillic one (a Russian map's labels are found, then lost)."""
        self._size_detector(image)
        output = self._engine(to_bgr(image), use_det=True, use_rec=False)
        return [] if output.boxes is None else [_box(polygon) for polygon in output.boxes]

    def _read(self, image: np.ndarray) -> list[Line]:
        self._size_detector(image)
        # each call says what it runs: RapidOCR keeps a call's use_rec for the calls after it
        output = self._engine(to_bgr(image), use_det=True, use_rec=True)
        if output.boxes is None:
            return []
        lines = []
        for polygon, text, score in zip(output.boxes, output.txts, output.scores, strict=True):
            if text.strip():
                lines.append(Line(bbox=_box(polygon), text=text.strip(), confidence=round(float(score), 4)))
        return lines

    def _size_detector(self, image: np.ndarray) -> None:
        detector = self._engine._load_det_model()  # loaded on first use (rapidocr 3.x); pinned in constraints
        if DETECTOR_SHORT_SIDE / max(1, min(image.shape[:2])) > MAX_DETECTOR_ENLARGEMENT:
            detector.limit_type, detector.limit_side_len = "max", max(image.shape[:2])  # as it is
        else:
            detector.limit_type, detector.limit_side_len = "min", DETECTOR_SHORT_SIDE


def _box(polygon: np.ndarray) -> BBox:
    xs, ys = polygon[:, 0], polygon[:, 1]
    return int(xs.min()), int(ys.min()), int(np.ceil(xs.max())), int(np.ceil(ys.max()))
