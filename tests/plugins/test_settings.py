"""Where each setting comes from: environment, Variables (tunables only), the trigger form (declared fields only)."""

from __future__ import annotations

import pytest

from ocr_pipeline.settings import (
    ConfigurationError,
    PipelineSettings,
    check_catalog_reachable_by_workers,
    form_overrides,
)


def test_an_empty_form_field_leaves_the_variable_in_force():
    variables = {"source_uri": "s3://docs/from-variable/", "batch_size": "7"}
    params = {"source_uri": None, "engine": "", "batch_size": None, "lang": "rus+eng"}
    settings = PipelineSettings.build(**{**variables, **form_overrides(params)})
    assert (settings.source_uri, settings.batch_size, settings.lang) == ("s3://docs/from-variable/", 7, "rus+eng")


def test_a_runs_conf_cannot_reach_deployment_settings(monkeypatch):
    monkeypatch.setenv("OCR_CATALOG_URL", "postgresql+psycopg2://db/catalog")
    conf = {"catalog_url": "sqlite:////tmp/elsewhere.db", "aws_conn_id": "someone_else", "launcher": "docker"}
    settings = PipelineSettings.build(**form_overrides(conf))
    assert (settings.catalog_url, settings.aws_conn_id, settings.launcher) == (
        "postgresql+psycopg2://db/catalog", "aws_default", "local",
    )  # fmt: skip


def test_a_sqlite_catalog_is_refused_under_a_distributed_executor():
    sqlite = PipelineSettings.build(catalog_url="sqlite:////tmp/catalog.db")
    check_catalog_reachable_by_workers(sqlite, "LocalExecutor")
    with pytest.raises(ConfigurationError, match="PostgreSQL"):
        check_catalog_reachable_by_workers(sqlite, "CeleryExecutor")
    check_catalog_reachable_by_workers(PipelineSettings.build(catalog_url="postgresql://h/c"), "CeleryExecutor")


def test_bad_values_are_configuration_errors():
    with pytest.raises(ConfigurationError, match="launcher"):
        PipelineSettings.build(launcher="ftp")
    with pytest.raises(ConfigurationError, match="s3://"):
        PipelineSettings.build(source_uri="/data/incoming")


def test_a_run_is_active_by_the_state_airflow_gives_as_an_enum_and_unknown_is_not_ended():
    """Only Airflow's 404 ends a run for the claims; an API error keeps them (taking a live run's claims would
    make two runs process the same objects). The errors as the supervisor hands them to a task."""
    from airflow.sdk.api.datamodels._generated import DagRunState
    from airflow.sdk.exceptions import AirflowRuntimeError, ErrorType
    from airflow.sdk.execution_time.comms import ErrorResponse

    from ocr_pipeline.tasks import run_is_active

    class TaskInstance:  # answers as RuntimeTaskInstance.get_dagrun_state does
        states = {"running-run": DagRunState.RUNNING, "queued-run": DagRunState.QUEUED, "done": DagRunState.FAILED}
        errors = {"deleted": 404, "api-restarting": 503, "api-broken": 500}

        def get_dagrun_state(self, dag_id, run_id):
            if run_id in self.errors:
                detail = {"status_code": self.errors[run_id], "message": "Server returned error", "detail": None}
                raise AirflowRuntimeError(ErrorResponse(error=ErrorType.API_SERVER_ERROR, detail=detail))
            return self.states[run_id]

    is_active = run_is_active(TaskInstance())
    assert str(DagRunState.RUNNING) != "running"  # the trap
    runs = ("running-run", "queued-run", "done", "deleted", "api-restarting", "api-broken")
    assert [is_active("d", r) for r in runs] == [True, True, False, False, True, True]
