"""Every DAG imports cleanly, has no cycle, and retries every task."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "document_ingest" in dagbag.dag_ids


def test_no_cycles(dagbag):
    from airflow.utils.dag_cycle_tester import check_cycle

    for dag in dagbag.dags.values():
        check_cycle(dag)  # raises on a cycle


def test_every_task_retries(dagbag):
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            assert task.retries >= 1, f"{dag.dag_id}.{task.task_id} has no retries"


def test_catalog_is_the_only_leaf_and_runs_after_every_task(dagbag):
    """The run's state is its leaves': ``catalog``, downstream of every other task, is upstream_failed when
    ``discover`` failed and fails itself when an OCR batch did (the dag.test() and deployment failure tests
    show each). Without it as the one leaf, a failed step could end in a green run."""
    dag = dagbag.dags["document_ingest"]
    assert [t.task_id for t in dag.leaves] == ["catalog"]
    verdict = dag.get_task("catalog")
    assert verdict.trigger_rule == "all_done_min_one_success"
    assert verdict.get_flat_relative_ids(upstream=True) == {t.task_id for t in dag.tasks} - {"catalog"}


def test_the_dag_imports_without_the_providers_of_unused_launchers(tmp_path):
    """With launcher=local, a deployment without the Docker, Kubernetes and AWS Batch providers still parses."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "for name in ('airflow.providers.docker.operators.docker', 'airflow.providers.cncf.kubernetes.operators.pod',\n"
        "             'airflow.providers.amazon.aws.operators.batch', 'docker.types', 'kubernetes.client'):\n"
        "    sys.modules[name] = None  # importing them now fails, as if not installed\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(REPO / 'dags')!r})\n"
        "assert bag.import_errors == {}, bag.import_errors\n"
        "print(sorted(bag.dag_ids))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env={**__import__("os").environ, "OCR_LAUNCHER": "local"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "document_ingest" in result.stdout


def test_ocr_runs_in_the_gpu_pool_with_backoff_and_a_timeout(dagbag):
    ocr = dagbag.dags["document_ingest"].get_task("ocr")
    assert ocr.pool == "gpu"
    assert ocr.retry_exponential_backoff and ocr.execution_timeout is not None


def test_schedule_has_real_data_intervals(dagbag):
    from airflow.timetables.interval import CronDataIntervalTimetable

    assert isinstance(dagbag.dags["document_ingest"].timetable, CronDataIntervalTimetable)


def test_trigger_form_has_described_params(dagbag):
    params = dagbag.dags["document_ingest"].params
    assert {"source_uri", "engine", "lang", "batch_size", "reprocess", "date_from", "date_to"} <= set(params)
    for name in params:
        assert params.get_param(name).description, name


OCR_ENGINE_MODULES = ("cv2", "tesserocr", "onnxruntime", "rapidocr", "paddleocr", "paddlex", "paddle")
BOUNDARY_PROBE = """
import importlib, json, pkgutil, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
import ocr_pipeline
for module in pkgutil.walk_packages(ocr_pipeline.__path__, "ocr_pipeline."):
    importlib.import_module(module.name)
for plugin in ("documents_plugin", "run_end_plugin"):
    importlib.import_module(plugin)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def _probe(tmp_path, code: str, *args: str, **settings: str):
    """What ``code`` prints last (JSON), run in a Python process of its own with the plugins on its path and
    an empty Airflow home: nothing another test imported counts."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)]),
           **settings}  # fmt: skip
    probe = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    return json.loads(probe.stdout.strip().splitlines()[-1])


def test_the_airflow_side_imports_no_ocr_engine(tmp_path):
    """The Airflow image has the OCR step's core (the contract, the engine names) but no engine and no OpenCV:
    the DAG and every module of the plugins must import without them."""
    imported = set(_probe(tmp_path, BOUNDARY_PROBE, str(REPO / "dags")))
    assert "airflow" in imported and "ocr_pipeline" in imported  # the probe really loaded the Airflow side
    assert imported.isdisjoint(OCR_ENGINE_MODULES), sorted(imported & set(OCR_ENGINE_MODULES))


TASK_PROCESS_PROBE = """
import json, sys
from airflow.sdk.listener import get_listener_manager
get_listener_manager()  # what the task runner does first: every plugin loaded, for its listeners
print(json.dumps({"plugins": sorted(m for m in sys.modules if m.endswith("_plugin")),
                  "api_server": "airflow.api_fastapi.app" in sys.modules, "fastapi": "fastapi" in sys.modules}))
"""


def test_a_task_process_loads_the_plugins_without_the_documents_views_imports(tmp_path):
    """Airflow loads every plugin in every task process; the Documents view's app (Airflow's API server,
    FastAPI: 0.9 s) is built on its first request in the api-server, never in a task."""
    loaded = _probe(tmp_path, TASK_PROCESS_PROBE, AIRFLOW__CORE__PLUGINS_FOLDER=str(REPO / "plugins"))
    assert {"documents_plugin", "run_end_plugin"} <= set(loaded["plugins"])  # the probe really loaded our plugins
    assert loaded == {**loaded, "api_server": False, "fastapi": False}
