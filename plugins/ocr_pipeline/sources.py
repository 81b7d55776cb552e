"""The sources one deployment serves: each a bucket prefix with its own DAG, schedule, queue, outputs and engine.

Without a sources file the deployment has one source, ``default``, made of the
``OCR_*`` settings; its DAG is ``document_ingest``. ``OCR_SOURCES_FILE`` names a
YAML file that declares the sources instead, each by name::

    default:                     # DAG document_ingest
      source_uri: s3://docs/incoming/
    invoices:                    # DAG document_ingest__invoices
      source_uri: s3://invoices-scans/incoming/
      output_uri: s3://invoices-scans/processed/
      quarantine_uri: s3://invoices-scans/quarantine/
      schedule: "0 3 * * *"
      event_queue_url: https://sqs.eu-west-1.amazonaws.com/123456789012/invoices-created
      engine: tesseract
      lang: rus+eng

A source's settings are the environment's with its entry over them; any
pipeline setting may be given but ``catalog_url``: every source writes to the
one catalog. The Airflow Variables of a source are ``ocr_<setting>`` for
``default`` and ``ocr_<source>__<setting>`` for the others, so that a Variable
set for one source never moves another.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from ocr_pipeline.settings import ConfigurationError, PipelineSettings

DEFAULT = "default"
DAG_ID = "document_ingest"
NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")  # no "__": it separates a source from its setting
SHARED_FIELDS = ("catalog_url",)  # one for the deployment, never per source


class SourcesFile(BaseSettings):
    """Where the sources are declared (``OCR_SOURCES_FILE``); none: the one source of the environment."""

    model_config = SettingsConfigDict(env_prefix="OCR_", extra="ignore")

    sources_file: Path | None = None


@dataclass(frozen=True)
class Source:
    """One source: its name and the settings its entry in the sources file gives."""

    name: str
    entry: dict = field(default_factory=dict)

    def asset_name(self, kind: str) -> str:
        """The name of this source's thing of a kind (its DAG, its outputs asset, its notifications asset):
        the kind's own name for the default source, ``<kind>__<source>`` for the others."""
        return kind if self.name == DEFAULT else f"{kind}__{self.name}"

    @property
    def dag_id(self) -> str:
        return self.asset_name(DAG_ID)

    @property
    def variable_prefix(self) -> str:
        """The prefix of this source's Airflow Variables (before the setting's name)."""
        return "ocr_" if self.name == DEFAULT else f"ocr_{self.name}__"

    def settings(self, **overrides) -> PipelineSettings:
        """The environment, this source's entry over it, then ``overrides`` (Variables, the trigger form)."""
        return PipelineSettings.build(**{**self.entry, **overrides})


def load(path: Path | None = None) -> list[Source]:
    """The deployment's sources, checked: names, known settings, and no two sharing a queue or an output."""
    path = path or SourcesFile().sources_file
    if path is None:
        return [Source(DEFAULT)]
    sources = [Source(name, dict(entry or {})) for name, entry in _read(Path(path)).items()]
    if not sources:
        raise ConfigurationError(f"the sources file {path} declares no source")
    _check_distinct({source.name: _check(source, path) for source in sources}, path)
    return sources


def deployed() -> tuple[Source, ...]:
    """The deployment's sources, the file read once per process (a changed file takes a restart, as for
    every deployment setting)."""
    return _cached(SourcesFile().sources_file)


@functools.cache
def _cached(path: Path | None) -> tuple[Source, ...]:
    return tuple(load(path))


def by_dag_id(dag_id: str | None) -> Source:
    """The source whose DAG ``dag_id`` is."""
    sources = deployed()
    for source in sources:
        if source.dag_id == (dag_id or DAG_ID):
            return source
    raise ConfigurationError(f"no source has the DAG {dag_id!r}: the sources are {[s.name for s in sources]}")


def _read(path: Path) -> dict:
    import yaml

    try:
        declared = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigurationError(f"cannot read the sources file {path}: {error}") from error
    if not isinstance(declared, dict):
        raise ConfigurationError(f"the sources file {path} must map source names to their settings")
    return declared


def _check(source: Source, path) -> PipelineSettings:
    """The source's settings, once its name and entry are found good."""
    if not isinstance(source.name, str) or not NAME.match(source.name):
        raise ConfigurationError(
            f"{path}: {source.name!r} is not a source name (lower-case letters, digits, single underscores)"
        )
    unknown = sorted(set(source.entry) - set(PipelineSettings.model_fields))
    shared = sorted(set(source.entry) & set(SHARED_FIELDS))
    if unknown or shared:
        raise ConfigurationError(
            f"{path}: source {source.name!r} sets "
            + "; ".join(
                [f"unknown settings {unknown}"] * bool(unknown)
                + [f"{shared}, which every source shares (the environment's)"] * bool(shared)
            )
        )
    try:
        return source.settings()
    except ConfigurationError as error:
        raise ConfigurationError(f"{path}: source {source.name!r}: {error}") from error


def _check_distinct(settings: dict[str, PipelineSettings], path) -> None:
    """Two sources with one queue would take each other's messages; with one output, overwrite each other."""
    for setting in ("output_uri", "event_queue_url"):
        owners: dict[str, str] = {}
        for name, values in settings.items():
            value = getattr(values, setting)
            if value is not None and owners.setdefault(value, name) != name:
                raise ConfigurationError(f"{path}: sources {owners[value]!r} and {name!r} share {setting} {value}")
