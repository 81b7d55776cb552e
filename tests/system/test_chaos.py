"""Chaos on the Celery deployment: a component or a service it needs dies in the middle of a run.

Each case checks what unattended operation needs: nothing lost (every document is catalogued in the end),
nothing catalogued or sent to OCR twice, a run that did not do its work is not green, and a further run
completes whatever the broken one left. The triggerer case is in ``test_service_runs`` (it needs the
``service`` launcher's deferred task).
"""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import time

import pytest

from tests.postgres import server_kept_up
from tests.system.conftest import Deployment

pytestmark = pytest.mark.system

DOCS = ("english.png", "russian.png", "page.bmp")


def _upload(deployment: Deployment, sample_docs, name: str, docs=DOCS) -> str:
    prefix = deployment.new_prefix(name)
    for doc in docs:
        deployment.upload(prefix, sample_docs[doc].path, doc)
    return prefix


def _wait_until(condition, timeout: float = 60, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _wait_for_task(api, run_id: str, task_id: str, states=("running",), timeout: float = 180) -> None:
    _wait_until(lambda: set(states) & set(api.task_states(run_id).get(task_id, [])), timeout, f"{task_id} {states}")


def _finish(deployment: Deployment, prefix: str, first: str, expected: int) -> list[str]:
    """The first run's end, and further manual runs until the prefix is catalogued (at most two); the
    invariants every case shares. Returns the states of the runs."""
    api = deployment.api
    states = [api.wait_for_run(first, timeout=600)]
    done = {r["source_uri"] for r in deployment.catalog_rows(prefix) if r["status"] == "succeeded"}
    if len(done) < expected:
        assert states[0] == "failed", "a run that left documents uncatalogued must not be green"
    for _ in range(2):
        if len(done) == expected:
            break
        deployment.wait_until_idle()
        states.append(api.wait_for_run(api.trigger({"source_uri": prefix}), timeout=600))
        done = {r["source_uri"] for r in deployment.catalog_rows(prefix) if r["status"] == "succeeded"}
    rows = deployment.catalog_rows(prefix)
    assert len(rows) == expected and len(done) == expected, rows  # nothing lost, each catalogued once
    assert not any(r["retryable"] for r in rows)
    assert deployment.claims() == []
    return states


def _postgres(action: str) -> None:
    """Stop or start the machine's PostgreSQL cluster (it holds the metadata and the catalog)."""
    version = sorted(os.path.basename(p) for p in glob.glob("/etc/postgresql/*"))[-1]
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*sudo, "pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action], check=True)


def _redis_restart() -> None:
    """Restart the machine's Redis (the broker), which keeps nothing on disk: queued messages are lost."""
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "shutdown", "nosave"], capture_output=True)
    deadline = time.monotonic() + 30
    while subprocess.run(["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "Redis did not stop"
        time.sleep(0.2)
    subprocess.run(["scripts/ensure_services.sh"], check=True)


def test_postgres_restarted_while_a_batch_runs(deployment, api, sample_docs):
    """The scheduler, dag-processor and triggerer exit without their database; their supervisors start them
    again (as compose's restart: always does), and the run goes on."""
    prefix = _upload(deployment, sample_docs, "chaos-postgres")
    with server_kept_up(restarting=True):  # once the other pytest process's tests on PostgreSQL are done
        run_id = api.trigger({"source_uri": prefix, "batch_size": 1})
        _wait_for_task(api, run_id, "ocr")
        _postgres("stop")
        time.sleep(5)
        _postgres("start")
    _finish(deployment, prefix, run_id, len(DOCS))
    assert set(deployment.sent_to_ocr(prefix).values()) <= {1, 2}  # a batch retried after the outage, at most


def test_scheduler_killed_mid_run_and_started_again_by_its_supervisor(deployment, api, sample_docs):
    prefix = _upload(deployment, sample_docs, "chaos-scheduler")
    run_id = api.trigger({"source_uri": prefix, "batch_size": 1})
    _wait_for_task(api, run_id, "ocr")
    killed = deployment.stack.kill_process("scheduler", signal.SIGKILL)
    _wait_until(lambda: deployment.stack.component_pid("scheduler") not in (None, killed))  # its supervisor
    states = _finish(deployment, prefix, run_id, len(DOCS))
    assert states[0] == "success"  # a new scheduler adopts the running tasks: nothing to redo
    assert set(deployment.sent_to_ocr(prefix).values()) == {1}


def test_redis_restarted_while_tasks_are_queued(deployment, api, sample_docs):
    prefix = _upload(deployment, sample_docs, "chaos-redis")
    assert deployment.stack.kill_component("worker", signal.SIGTERM)  # nothing takes the tasks off the queue
    try:
        run_id = api.trigger({"source_uri": prefix})
        _wait_for_task(api, run_id, "discover", ("queued",))
        _redis_restart()
    finally:
        deployment.stack.start_component("worker")
    _finish(deployment, prefix, run_id, len(DOCS))


def test_api_server_stopped_while_discover_asks_which_runs_are_alive(deployment, api, sample_docs):
    prefix = _upload(deployment, sample_docs, "chaos-api")
    run_id = api.trigger({"source_uri": prefix})
    _wait_for_task(api, run_id, "discover", ("queued", "running"))
    assert deployment.stack.kill_component("api-server", signal.SIGTERM)
    try:
        time.sleep(15)
    finally:
        deployment.stack.start_component("api-server")
        deployment.stack.wait_for_api()
    _finish(deployment, prefix, run_id, len(DOCS))


def test_four_manual_runs_at_once_on_the_same_twenty_documents(deployment, api, sample_docs):
    names = [f"doc{n:02}.png" for n in range(20)]
    prefix = deployment.new_prefix("chaos-four")
    for name in names:
        deployment.upload(prefix, sample_docs["english.png"].path, name)
    runs = [api.trigger({"source_uri": prefix, "batch_size": 5}) for _ in range(4)]
    states = [api.wait_for_run(run, timeout=900) for run in runs]
    assert states == ["success"] * 4
    rows = deployment.catalog_rows(prefix)
    assert sorted(r["source_uri"].rsplit("/", 1)[1] for r in rows) == names  # each exactly once
    assert {r["status"] for r in rows} == {"succeeded"}
    assert set(deployment.sent_to_ocr(prefix).values()) == {1}  # no document sent to OCR twice
    assert deployment.claims() == []
