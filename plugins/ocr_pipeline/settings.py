"""The pipeline's configuration: environment variables, Airflow Variables over them, the run's Params over both.

Read at run time inside tasks (never at DAG parse time, except the few
values a DAG's shape depends on: schedule, output asset, launcher).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

LAUNCHERS = ("local", "docker", "kubernetes", "batch", "service")


def _default_catalog_url() -> str:
    home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
    return f"sqlite:///{home / 'ocr_catalog.db'}"


@dataclass(frozen=True)
class PipelineSettings:
    source_uri: str = "s3://docs/incoming/"
    output_uri: str = "s3://docs/processed/"
    quarantine_uri: str = "s3://docs/quarantine/"
    catalog_url: str = ""
    engine: str = "auto"
    lang: str | None = None
    launcher: str = "local"
    batch_size: int = 20
    max_batches: int = 50
    aws_conn_id: str = "aws_default"
    low_text_chars_per_page: int = 50
    claim_hours: float = 6.0

    # environment variable of each field
    ENV = {
        "source_uri": "OCR_SOURCE_URI",
        "output_uri": "OCR_OUTPUT_URI",
        "quarantine_uri": "OCR_QUARANTINE_URI",
        "catalog_url": "OCR_CATALOG_URL",
        "engine": "OCR_ENGINE",
        "lang": "OCR_LANG",
        "launcher": "OCR_LAUNCHER",
        "batch_size": "OCR_BATCH_SIZE",
        "max_batches": "OCR_MAX_BATCHES",
        "aws_conn_id": "OCR_AWS_CONN_ID",
        "low_text_chars_per_page": "OCR_LOW_TEXT_CHARS_PER_PAGE",
        "claim_hours": "OCR_CLAIM_HOURS",
    }

    @classmethod
    def from_env(cls, environ=None) -> PipelineSettings:
        environ = os.environ if environ is None else environ
        values = {name: environ[env] for name, env in cls.ENV.items() if environ.get(env)}
        settings = cls(**_typed(values))
        if not settings.catalog_url:
            settings = replace(settings, catalog_url=_default_catalog_url())
        settings.validate()
        return settings

    def with_overrides(self, overrides: dict) -> PipelineSettings:
        """These settings with non-empty overrides applied (Variables, then Params)."""
        known = {f.name for f in fields(self)}
        values = {k: v for k, v in overrides.items() if k in known and v not in (None, "")}
        settings = replace(self, **_typed(values))
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.launcher not in LAUNCHERS:
            raise ValueError(f"OCR_LAUNCHER={self.launcher!r}; choose one of {', '.join(LAUNCHERS)}")
        for name in ("source_uri", "output_uri", "quarantine_uri"):
            if not getattr(self, name).startswith("s3://"):
                raise ValueError(f"{self.ENV[name]} must be an s3:// prefix, not {getattr(self, name)!r}")
        if self.batch_size < 1 or self.max_batches < 1:
            raise ValueError("batch size and maximum batch count must be at least 1")


def _typed(values: dict) -> dict:
    types = {f.name: f.type for f in fields(PipelineSettings)}
    typed = {}
    for name, value in values.items():
        kind = types[name]
        if kind == "int":
            value = int(value)
        elif kind == "float":
            value = float(value)
        elif name.endswith("_uri") and not str(value).endswith("/"):
            value = f"{value}/"
        typed[name] = value
    return typed


def variable_overrides() -> dict:
    """Airflow Variables named like the fields (``ocr_source_uri``, ...), where set."""
    from airflow.sdk import Variable

    overrides = {}
    for field in fields(PipelineSettings):
        value = Variable.get(f"ocr_{field.name}", default=None)
        if value is not None:
            overrides[field.name] = value
    return overrides


def resolve(params: dict | None = None) -> PipelineSettings:
    """Settings for a task: environment, then Airflow Variables, then the run's Params."""
    return PipelineSettings.from_env().with_overrides(variable_overrides()).with_overrides(params or {})
