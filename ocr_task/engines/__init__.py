"""OCR engines: one module each, registered here by name; this registry is the only list of them.

Adding an engine is one module with an :class:`~ocr_task.engines.base.Engine`
subclass (constructed as ``Engine(settings, threads)``) and one line in
``ENGINES``: the CLI's choices, the settings' validation and the Airflow
trigger form's list all come from here. Each is imported only when used, so
an image without PaddleOCR runs the CPU engines, and importing this registry
imports no engine, no OpenCV and no settings: the Airflow side reads the names from here
(tests/dags/test_dag_integrity.py holds it to that), and the settings validate with them. The engines one
process has loaded are an :class:`~ocr_task.engines.loaded.EngineSet`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

AUTO = "auto"  # not an engine: chooses one per page (``engines.auto``)
TESSERACT, RAPIDOCR, PADDLE_VL = "tesseract", "rapidocr", "paddleocr-vl"
ENGINES = {
    TESSERACT: "ocr_task.engines.tesseract:TesseractEngine",
    RAPIDOCR: "ocr_task.engines.rapidocr:RapidOcrEngine",
    PADDLE_VL: "ocr_task.engines.paddle_vl:PaddleOcrVlEngine",
}


def engine_names() -> tuple[str, ...]:
    """Every name a user may choose: ``auto`` and the registered engines."""
    return (AUTO, *ENGINES)


def check_engine_name(name: str) -> str:
    if name not in engine_names():
        raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(engine_names())}")
    return name


# an engine name in any settings model (the OCR step's and the pipeline's): refused unless it is one of these
EngineName = Annotated[str, AfterValidator(check_engine_name)]
