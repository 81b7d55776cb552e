"""The deployment with ``OCR_LAUNCHER=service``: batches go to a real ``ocr_task serve`` process as jobs,
and the ``ocr`` task waits for them deferred, in the triggerer, holding no worker slot."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter

import pytest

from tests.service_process import TOKEN, Service
from tests.system.conftest import BUCKET, deploy
from tests.system.test_deployment_runs import _assert_outputs, _names

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def service(s3_server):
    running = Service(
        {**s3_server.env, "OCR_WORKERS": "1", "OCR_SERVICE_READ_PREFIXES": f"s3://{BUCKET}/",
         "OCR_SERVICE_WRITE_PREFIXES": f"s3://{BUCKET}/processed/"}
    )
    running.wait_for("/ready", 200)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def deployment(s3_server, service, tmp_path_factory):
    connection = {"conn_type": "http", "host": "127.0.0.1", "port": service.port, "password": TOKEN}
    settings = {
        "OCR_LAUNCHER": "service",
        "OCR_SERVICE_POLL_SECONDS": "1",
        "AIRFLOW_CONN_OCR_SERVICE": json.dumps(connection),
    }
    yield from deploy(s3_server, tmp_path_factory.mktemp("service-stack"), "ocr_systest_service", settings)


def _ocr_states(api, run_id: str) -> list[str | None]:
    return [ti.state.value if ti.state else None for ti in api.task_instances_of(run_id) if ti.task_id == "ocr"]


def _wait_for_ocr_state(api, run_id: str, state: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _ocr_states(api, run_id) == [state]:
            return
        time.sleep(0.5)
    raise TimeoutError(f"the ocr task never was {state}: {_ocr_states(api, run_id)}")


def test_the_ocr_task_defers_while_the_service_works_and_a_killed_triggerer_loses_nothing(
    deployment, api, service, sample_docs
):
    prefix = deployment.new_prefix("service")
    names = ["english.png", "scanned.pdf", "russian_scan.jpg"]
    for name in names:
        deployment.upload(prefix, sample_docs[name].path, name)
    run_id = api.trigger({"source_uri": prefix, "batch_size": 10})

    _wait_for_ocr_state(api, run_id, "deferred")
    # chaos: the triggerer that watches the job dies without a word; a new one takes the trigger over
    deployment.stack.kill_process("triggerer", signal.SIGKILL)  # its supervisor starts it again

    assert api.wait_for_run(run_id) == "success"
    rows = deployment.catalog_rows(prefix)
    assert _names(rows) == Counter(names) and {r["status"] for r in rows} == {"succeeded"}
    (ocr,) = [ti for ti in api.task_instances_of(run_id) if ti.task_id == "ocr"]
    assert ocr.try_number == 1 and {r["try_number"] for r in rows} == {1}  # the job was not submitted again
    _assert_outputs(deployment, rows, sample_docs)
    assert "deferring until it ends" in api.log(run_id, "ocr", map_index=0)
    assert deployment.claims() == []


def test_a_service_killed_mid_job_is_retried_with_nothing_lost_or_duplicated(deployment, api, service, sample_docs):
    prefix = deployment.new_prefix("restart")
    names = ["scanned.pdf", "two_pages.tiff", "born_digital.pdf", "russian_scan.jpg", "two_column.png"]
    for name in names:
        deployment.upload(prefix, sample_docs[name].path, name)
    run_id = api.trigger({"source_uri": prefix, "batch_size": 10})
    _wait_for_ocr_state(api, run_id, "deferred")
    time.sleep(2)  # in the middle of the job

    service.kill()
    time.sleep(3)
    assert _ocr_states(api, run_id) == ["deferred"]  # an unanswered poll is not yet a failure
    service.start()
    service.wait_for("/ready", 200)

    assert api.wait_for_run(run_id, timeout=500) == "success"
    (ocr,) = [ti for ti in api.task_instances_of(run_id) if ti.task_id == "ocr"]
    assert ocr.try_number == 2  # the job the restart lost was submitted again, once
    assert "lost" in api.log(run_id, "ocr", try_number=1, map_index=0)
    rows = deployment.catalog_rows(prefix)
    assert _names(rows) == Counter(names)
    assert {r["status"] for r in rows} == {"succeeded"} and {r["try_number"] for r in rows} == {2}
    _assert_outputs(deployment, rows, sample_docs)
