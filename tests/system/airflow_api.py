"""The deployment as the UI drives it: Airflow's REST API through the official ``apache-airflow-client``."""

from __future__ import annotations

import copy
import json
import time
import warnings
from datetime import UTC, datetime

import airflow_client.client as af
import requests
from airflow_client.client.api.backfill_api import BackfillApi
from airflow_client.client.api.dag_api import DAGApi
from airflow_client.client.api.dag_run_api import DagRunApi
from airflow_client.client.api.task_instance_api import TaskInstanceApi
from airflow_client.client.api.variable_api import VariableApi
from airflow_client.client.models.dag_run_mutable_states import DagRunMutableStates

FINISHED = {"success", "failed"}
DAG_ID = "document_ingest"
REQUEST_TIMEOUT = (10, 60)  # connect, read: a request the API server never answers fails instead of hanging
SLOW_CALL = 10  # seconds: a call slower than this is reported (a warning in the suite's summary)


class _TimedApiClient(af.ApiClient):
    """The official client with a timeout on every request (it has none by default: a request to an API
    server that stopped answering waited until pytest's timeout killed the test)."""

    def call_api(self, method, url, header_params=None, body=None, post_params=None, _request_timeout=None):
        sent = datetime.now(UTC)
        response = super().call_api(method, url, header_params, body, post_params, _request_timeout or REQUEST_TIMEOUT)
        took = (datetime.now(UTC) - sent).total_seconds()
        if took > SLOW_CALL:
            # where the time went: urllib3's retries (a connection that failed or a read that timed out) are
            # the client's; the server's Date header says when it answered
            retries = getattr(response.response, "retries", None)
            history = [f"{h.method} {h.error!r}" for h in retries.history] if retries else []
            warnings.warn(
                f"REST {method} {url} took {took:.1f} s: sent {sent:%H:%M:%S}, answered (server's Date) "
                f"{response.getheader('date')}, retries {history}",
                stacklevel=2,
            )
        return response


class AirflowApi:
    """A logged-in user of the REST API (simple auth manager: ``POST /auth/token``)."""

    def __init__(self, url: str, user: str, password: str, dag_id: str = DAG_ID):
        self.dag_id = dag_id  # the source's DAG the calls are about
        response = requests.post(
            f"{url}/auth/token", json={"username": user, "password": password}, timeout=30
        )
        response.raise_for_status()
        configuration = af.Configuration(host=url, access_token=response.json()["access_token"])
        configuration.retries = 3  # urllib3's: connection errors and read timeouts of idempotent requests
        self.client = _TimedApiClient(configuration)
        # A new connection per call, as the Airflow SDK's own client (httpx) keeps an idle one at most 5 s: in a
        # suite, a GET sent after 198 s without a call (past the API server's keep-alive, ``[api] worker_timeout``)
        # was never answered, and the read timeout cost a minute before urllib3's retry on a new connection got
        # its answer at once (earlier suites lost a like minute; not reproduced in isolation).
        self.client.set_default_header("Connection", "close")
        self.dags = DAGApi(self.client)
        self.runs = DagRunApi(self.client)
        self.task_instances = TaskInstanceApi(self.client)
        self.variables = VariableApi(self.client)
        self.backfills = BackfillApi(self.client)

    def for_dag(self, dag_id: str) -> AirflowApi:
        """The same client about another source's DAG."""
        other = copy.copy(self)
        other.dag_id = dag_id
        return other

    # ---- the DAG ---------------------------------------------------------------------------------------------
    def wait_for_dag(self, timeout: float = 180) -> None:
        """Until the dag-processor has parsed and serialised the DAG."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.dags.get_dag(self.dag_id)
                return
            except af.ApiException:
                time.sleep(2)
        raise TimeoutError(f"{self.dag_id} was not parsed within {timeout} s")

    def pause(self, paused: bool) -> None:
        self.dags.patch_dag(self.dag_id, af.DAGPatchBody(is_paused=paused))

    def next_scheduled_run_after(self) -> datetime | None:
        """When the scheduler will create its next scheduled run (it moves this on as it creates each run)."""
        return self.dags.get_dag(self.dag_id).next_dagrun_run_after

    def set_variable(self, key: str, value) -> None:
        body = af.VariableBody(key=key, value=str(value))
        try:
            self.variables.patch_variable(key, body)
        except af.ApiException:
            self.variables.post_variable(body)

    def delete_variable(self, key: str) -> None:
        try:
            self.variables.delete_variable(key)
        except af.ApiException:
            pass

    # ---- runs --------------------------------------------------------------------------------------------------
    def trigger(self, conf: dict | None = None) -> str:
        """A manual run with the trigger form's values, as the UI's Trigger button sends them."""
        body = af.TriggerDAGRunPostBody(conf=conf or {}, logical_date=None)
        return self.runs.trigger_dag_run(self.dag_id, body).dag_run_id

    def backfill(
        self, start: datetime, end: datetime, reprocess: str = "completed", conf: dict | None = None
    ):
        body = af.BackfillPostBody(
            dag_id=self.dag_id, from_date=start, to_date=end, reprocess_behavior=af.ReprocessBehavior(reprocess),
            max_active_runs=2, dag_run_conf=conf or {},
        )  # fmt: skip
        return self.backfills.create_backfill(body)

    def wait_for_backfill(self, backfill, timeout: float = 480) -> list:
        """Until the scheduler has completed the backfill; its runs (backfill runs in its date range)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.backfills.get_backfill(backfill.id).completed_at is not None:
                return [
                    r for r in self.list_runs()
                    if r.run_type.value == "backfill" and backfill.from_date <= r.logical_date <= backfill.to_date
                ]  # fmt: skip
            time.sleep(3)
        raise TimeoutError(f"backfill {backfill.id} did not complete within {timeout} s")

    def mark_failed(self, run_id: str) -> None:
        """What a user does with "Mark run as failed" in the UI (``PATCH`` the run's state)."""
        self.runs.patch_dag_run(self.dag_id, run_id, af.DAGRunPatchBody(state=DagRunMutableStates("failed")))

    def run(self, run_id: str):
        return self.runs.get_dag_run(self.dag_id, run_id)

    def list_runs(self) -> list:
        return self.runs.get_dag_runs(self.dag_id, limit=100, order_by=["run_after"]).dag_runs

    def wait_for_run(self, run_id: str, timeout: float = 420) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = str(self.run(run_id).state.value)
            if state in FINISHED:
                return state
            time.sleep(2)
        raise TimeoutError(f"run {run_id} did not finish within {timeout} s: {self.task_states(run_id)}")

    def wait_for_new_run(self, known: set[str], run_type: str, timeout: float = 300):
        """The first run of ``run_type`` not in ``known`` (created by the scheduler or a backfill)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for run in self.list_runs():
                if run.dag_run_id not in known and run.run_type.value == run_type:
                    return run
            time.sleep(2)
        raise TimeoutError(f"no new {run_type} run within {timeout} s")

    def task_instances_of(self, run_id: str) -> list:
        return self.task_instances.get_task_instances(self.dag_id, run_id, limit=1000).task_instances

    def task_states(self, run_id: str) -> dict[str, list[str]]:
        states: dict[str, list[str]] = {}
        for ti in self.task_instances_of(run_id):
            states.setdefault(ti.task_id, []).append(ti.state.value if ti.state else "none")
        return states

    def log(self, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1) -> str:
        """A task's log as the UI shows it: every structured line (event, error details) as JSON text."""
        response = self.task_instances.get_log_without_preload_content(
            self.dag_id, run_id, task_id, try_number, map_index=map_index, full_content=True
        )
        content = json.loads(response.data)["content"]
        return "\n".join(
            json.dumps(line, ensure_ascii=False) if isinstance(line, dict) else str(line) for line in content
        )
