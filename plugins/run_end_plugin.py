"""Registers ``ocr_pipeline.run_end``: an ended run's claims are given back, however it ended."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from ocr_pipeline import run_end


class RunEndPlugin(AirflowPlugin):
    name = "ocr_run_end"
    listeners = [run_end]
