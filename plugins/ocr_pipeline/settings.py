"""The pipeline's configuration, and the one rule for where each setting comes from.

* **Deployment settings** (where things are: ``output_uri``, ``quarantine_uri``,
  ``catalog_url``, ``launcher``, ``aws_conn_id``, the ``schedule``, event mode's queue): the environment
  (``OCR_*``), and a source's entry in the sources file (``ocr_pipeline.sources``), the same for the DAG
  processor and every task. The DAG's shape
  (the launcher's operator, the output asset) depends on them, so a Variable
  that changed them in some tasks and not others would split the pipeline.
* **Tunables** (what and how: ``source_uri``, ``inventory_uri``, ``discovery_order``, ``engine``, ``lang``,
  ``batch_size``, ``batch_megabytes``, ``max_batches``, ``low_text_chars_per_page``): the
  environment and the source's entry, then the source's Airflow Variables at run time (``ocr_<name>``
  for the default source).
* **The trigger form** (``FORM_FIELDS``, declared Params of the DAG): over
  both, for that run only. Other keys of a run's conf are ignored: a conf can
  never point a run at another catalog or connection.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ocr_task.engines import EngineName

DEPLOYMENT_FIELDS = (
    "output_uri", "quarantine_uri", "catalog_url", "launcher", "aws_conn_id", "schedule", "event_queue_url",
    "event_visibility_timeout",
)  # fmt: skip
TUNABLE_FIELDS = (
    "source_uri", "inventory_uri", "discovery_order", "engine", "lang", "batch_size", "batch_megabytes",
    "max_batches", "low_text_chars_per_page",
)  # fmt: skip
FORM_FIELDS = ("source_uri", "engine", "lang", "batch_size")
LOCAL_EXECUTORS = {"LocalExecutor"}


class DagShapeSettings(BaseSettings):
    """What the DAG file reads when it is parsed, for every source: its tasks' timeouts and retries
    (``OCR_SENSOR_TIMEOUT`` …). Changing one takes a new parse, as any change of a DAG's shape does."""

    model_config = SettingsConfigDict(env_prefix="OCR_", extra="ignore", frozen=True)

    sensor_timeout: int = 6 * 3600  # seconds a run whose window is still open may wait for new work
    sensor_poke_seconds: int = 60
    retry_delay_seconds: int = 60  # the first retry's delay; it doubles, up to 30 minutes
    batch_timeout_hours: int = 4  # an OCR batch that runs longer is failed (and retried)


class LauncherSettings(BaseSettings):
    """How the launchers reach the OCR step (one deployment, every source): the image the container launchers
    run, the Python the local one runs, the service's connection, a Kubernetes secret with S3 credentials."""

    model_config = SettingsConfigDict(env_prefix="OCR_", extra="ignore", frozen=True)

    image: str = "ocr-task:latest"
    task_python: str | None = None  # the local launcher's interpreter; None: Airflow's own
    service_conn_id: str = "ocr_service"
    service_poll_seconds: float = 15
    k8s_namespace: str = "default"
    k8s_in_cluster: bool = True
    k8s_aws_secret: str | None = None  # its keys become the pod's environment (AWS_ACCESS_KEY_ID, …)
    docker_url: str = "unix://var/run/docker.sock"
    docker_network: str = "bridge"
    batch_job_definition: str = "ocr-task-gpu"  # AWS Batch
    batch_job_queue: str = "ocr-gpu"


class ViewSettings(BaseSettings):
    """The Documents view's page-image cache."""

    model_config = SettingsConfigDict(env_prefix="OCR_VIEW_", extra="ignore", frozen=True)

    cache_dir: Path | None = None  # None: a folder in the system's temporary directory
    cache_mb: int = 512
    max_source_mb: int = 200  # a larger source document is not rendered


class ConfigurationError(ValueError):
    """A setting that no retry can fix."""


def _default_catalog_url() -> str:
    home = Path(os.environ.get("AIRFLOW_HOME", Path.home() / "airflow"))
    return f"sqlite:///{home / 'ocr_catalog.db'}"


class PipelineSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OCR_", extra="ignore", frozen=True)

    source_uri: str = "s3://docs/incoming/"
    # read the object list from an S3 Inventory report instead of listing (see ``inventory``)
    inventory_uri: str | None = None
    # oldest: walk the whole listing, take the oldest; key: take the first in key order and stop early
    discovery_order: Literal["oldest", "key"] = "oldest"
    output_uri: str = "s3://docs/processed/"
    quarantine_uri: str = "s3://docs/quarantine/"
    catalog_url: str = ""
    engine: EngineName = "auto"
    lang: str | None = None
    launcher: str = "local"
    # a batch closes at batch_size documents or batch_megabytes of them, whichever comes first
    batch_size: int = 100
    batch_megabytes: int = 100
    max_batches: int = 10
    aws_conn_id: str = "aws_default"
    low_text_chars_per_page: int = 50
    # when scheduled runs start (cron, UTC): the daily run, and event mode's safety net
    schedule: str = "0 2 * * *"
    # event mode (``events``): the SQS queue the source bucket's ObjectCreated notifications go to
    event_queue_url: str | None = None
    # seconds a received notification stays invisible to the queue's other readers before the run that
    # takes its objects deletes it; not deleted by then (the triggerer died, no run started), it comes back
    event_visibility_timeout: int = 900

    @field_validator("source_uri", "output_uri", "quarantine_uri")
    @classmethod
    def _s3_prefix(cls, value: str) -> str:
        if not value.startswith("s3://"):
            raise ValueError(f"must be an s3:// prefix, not {value!r}")
        return value if value.endswith("/") else f"{value}/"

    @field_validator("catalog_url")
    @classmethod
    def _catalog_default(cls, value: str) -> str:
        return value or _default_catalog_url()

    @field_validator("launcher")
    @classmethod
    def _known_launcher(cls, value: str) -> str:
        from ocr_pipeline.launchers import LAUNCHERS

        if value not in LAUNCHERS:
            raise ValueError(f"{value!r} is not a launcher; choose one of {', '.join(LAUNCHERS)}")
        return value

    @model_validator(mode="after")
    def _positive_sizes(self):
        if min(self.batch_size, self.batch_megabytes, self.max_batches) < 1:
            raise ValueError("batch size, batch megabytes and maximum batch count must be at least 1")
        return self

    @property
    def capacity(self) -> int:
        """How many documents one run takes at most."""
        return self.batch_size * self.max_batches

    @classmethod
    def build(cls, **overrides) -> PipelineSettings:
        """The environment with ``overrides`` over it; a bad value is a :class:`ConfigurationError`."""
        try:
            return cls(**{k: v for k, v in overrides.items() if v not in (None, "")})
        except ValidationError as error:
            raise ConfigurationError(f"invalid pipeline settings: {error}") from error


def variable_overrides(prefix: str = "ocr_") -> dict:
    """Airflow Variables ``<prefix><tunable>`` that are set (a source's prefix: ``ocr_pipeline.sources``)."""
    from airflow.sdk import Variable

    values = {name: Variable.get(f"{prefix}{name}", default=None) for name in TUNABLE_FIELDS}
    return {name: value for name, value in values.items() if value is not None}


def form_overrides(params: dict | None) -> dict:
    """The trigger form's values for settings: declared fields only, empty ones left out."""
    values = {name: (params or {}).get(name) for name in FORM_FIELDS}
    return {name: value for name, value in values.items() if value not in (None, "")}


def check_catalog_reachable_by_workers(settings: PipelineSettings, executor: str) -> None:
    """A SQLite catalog is a file on one machine: with workers on other machines each would have its own."""
    executors = {e.strip().split(".")[-1] for e in executor.split(",") if e.strip()}
    if settings.catalog_url.startswith("sqlite") and not executors <= LOCAL_EXECUTORS:
        raise ConfigurationError(
            f"OCR_CATALOG_URL is a SQLite file ({settings.catalog_url}) but the executor is {executor}: "
            "every worker would keep a catalog of its own. Set OCR_CATALOG_URL to a PostgreSQL database "
            "that every worker reaches, e.g. postgresql+psycopg2://user:password@host:5432/ocr_catalog"
        )


def resolve(params: dict | None = None, dag_id: str | None = None) -> PipelineSettings:
    """Settings for a task of the DAG ``dag_id``: environment, its source's entry, then the source's
    Variables (tunables), then the run's form."""
    from airflow.configuration import conf
    from airflow.sdk.exceptions import AirflowFailException

    from ocr_pipeline import sources

    try:
        source = sources.by_dag_id(dag_id)
        settings = source.settings(**{**variable_overrides(source.variable_prefix), **form_overrides(params)})
        check_catalog_reachable_by_workers(settings, conf.get("core", "executor"))
    except ConfigurationError as error:
        raise AirflowFailException(str(error)) from error
    return settings
