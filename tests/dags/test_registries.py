"""Adding an engine or a launcher is one class and one registry line: everything else follows from the registry."""

from __future__ import annotations

import pytest

from ocr_pipeline import launchers
from ocr_pipeline.launchers.local import LocalOcrOperator
from ocr_pipeline.settings import PipelineSettings
from ocr_task import engines
from ocr_task.cli import _parser
from ocr_task.config import OcrSettings
from ocr_task.engines.loaded import EngineSet
from ocr_task.engines.tesseract import TesseractEngine
from tests.dags.conftest import load_dag


class ThrowAwayEngine(TesseractEngine):
    """A new engine as a contributor would add it (here: Tesseract under another name)."""

    name = "throwaway"


class ThrowAwayLauncher(LocalOcrOperator):
    """A new launcher with a deployment argument of its own."""

    @classmethod
    def deployment_arguments(cls) -> dict:
        return {"python": "/opt/ocr/bin/python"}


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(engines.ENGINES, "throwaway", f"{__name__}:ThrowAwayEngine")
    monkeypatch.setitem(launchers.LAUNCHERS, "throwaway", f"{__name__}:ThrowAwayLauncher")


def _choices(parser, command: str, option: str) -> list[str]:
    run = next(a for a in parser._actions if a.dest == "command").choices[command]
    return next(a for a in run._actions if option in a.option_strings).choices


def test_a_registered_engine_is_in_the_cli_the_settings_the_form_and_the_engine_set(registered, airflow_db):
    assert "throwaway" in _choices(_parser(), "run", "--engine")
    assert OcrSettings(engine="throwaway").engine == "throwaway"
    assert PipelineSettings(engine="throwaway").engine == "throwaway"
    assert "throwaway" in load_dag().params.get_param("engine").schema["enum"]
    assert isinstance(EngineSet(OcrSettings()).get("throwaway"), ThrowAwayEngine)


def test_an_unregistered_engine_is_refused_everywhere(airflow_db):
    assert "throwaway" not in _choices(_parser(), "run", "--engine")
    assert "throwaway" not in load_dag().params.get_param("engine").schema["enum"]
    with pytest.raises(ValueError, match="unknown engine 'throwaway'"):
        OcrSettings(engine="throwaway")
    with pytest.raises(ValueError, match="unknown engine 'throwaway'"):
        PipelineSettings(engine="throwaway")


def test_a_registered_launcher_is_validated_and_mapped_by_the_dag(registered, airflow_db, monkeypatch):
    assert PipelineSettings(launcher="throwaway").launcher == "throwaway"
    monkeypatch.setenv("OCR_LAUNCHER", "throwaway")
    ocr = load_dag().task_dict["ocr"]
    assert ocr.operator_class is ThrowAwayLauncher
    assert ocr.partial_kwargs["python"] == "/opt/ocr/bin/python"  # its own deployment argument
    monkeypatch.delitem(launchers.LAUNCHERS, "throwaway")
    with pytest.raises(ValueError, match="'throwaway' is not a launcher"):
        PipelineSettings(launcher="throwaway")
