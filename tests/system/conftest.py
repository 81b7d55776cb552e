"""The deployment under test, started once per session: ``scripts/stack.py`` (CeleryExecutor on the local
Redis, PostgreSQL metadata and catalog, api-server, scheduler, dag-processor, triggerer and a Celery worker,
each its own process) with the test session's S3 server behind a proxy that can take S3 down.

Tests drive it only as a user does, through the REST API (``airflow_api``); they read the catalog
(PostgreSQL) and the outputs (S3) to check what happened.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import pytest

from ocr_pipeline.catalog import Catalog
from scripts.stack import Stack
from tests.conftest import backdate
from tests.network import free_port
from tests.s3_proxy import FlakyProxy
from tests.system.airflow_api import AirflowApi

BUCKET = "system"
SCHEDULE_MINUTES = 1
IDLE_SOURCE = f"s3://{BUCKET}/idle/"  # where scheduled runs look when no test points them elsewhere


OWN_DEPLOYMENT = ("test_service_runs.py",)  # modules that start a deployment of their own
# the shared deployment's sources beside the default one (``IDLE_SOURCE``, every minute, the ``auto`` engine):
# event mode on a daily schedule with RapidOCR, and event mode's safety net on a schedule of a few minutes
# (paused but while its test runs), each in a folder and an output of its own (ocr_pipeline.sources)
SOURCES = {
    "events": {
        "source_uri": f"s3://{BUCKET}/events/", "output_uri": f"s3://{BUCKET}/events-out/",
        "quarantine_uri": f"s3://{BUCKET}/events-quarantine/", "schedule": "0 2 * * *",
        "event_queue": "system-events", "engine": "rapidocr",
    },
    "safety": {
        "source_uri": f"s3://{BUCKET}/safety/", "output_uri": f"s3://{BUCKET}/safety-out/",
        "quarantine_uri": f"s3://{BUCKET}/safety-quarantine/", "schedule": "*/2 * * * *",
        "event_queue": "system-safety", "engine": "tesseract",
    },
}  # fmt: skip
PAUSED_SOURCES = ("safety",)


def pytest_collection_modifyitems(items):
    """Modules with a deployment of their own run before the first test of the shared one, so that two
    deployments never run at once (each idles with a run a minute, and this machine has two cores)."""
    own = [item for item in items if item.path.name in OWN_DEPLOYMENT]
    rest = [item for item in items if item.path.name not in OWN_DEPLOYMENT]
    first = next((i for i, item in enumerate(rest) if item.path.parent == Path(__file__).parent), len(rest))
    items[:] = rest[:first] + own + rest[first:]


@dataclass
class Deployment:
    stack: Stack
    api: AirflowApi
    proxy: FlakyProxy
    s3: object  # a boto3 S3 client straight to the server (not through the proxy)

    @cached_property
    def catalog(self) -> Catalog:
        """One engine for the tests' many polls (its pool pings a connection before use: PostgreSQL restarts)."""
        return Catalog(self.stack.catalog_url)

    def catalog_rows(self, prefix: str) -> list[dict]:
        return [r for r in self.catalog.rows() if r["source_uri"].startswith(prefix)]

    def claims(self) -> list[tuple]:
        with self.catalog.engine.connect() as connection:
            return connection.exec_driver_sql("SELECT source_uri, run_id FROM claims").all()

    def read(self, uri: str) -> bytes:
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def written(self, prefix: str) -> dict[str, tuple]:
        """Each object under a key prefix of the bucket with its ETag and LastModified: what a rewrite changes."""
        heads = {k: self.s3.head_object(Bucket=BUCKET, Key=k) for k in self.keys(prefix)}
        return {k: (h["ETag"], h["LastModified"]) for k, h in heads.items()}

    def sent_to_ocr(self, prefix: str, output: str = "processed/") -> Counter:
        """How many batch manifests of the deployment (under the source's ``output`` folder) name each
        document under ``prefix``."""
        planned = Counter()
        for key in self.keys(f"{output}_batches/"):
            if key.endswith("manifest.json"):
                manifest = json.loads(self.read(f"s3://{BUCKET}/{key}"))
                planned.update(d["source"] for d in manifest["documents"] if d["source"].startswith(prefix))
        return planned

    def new_prefix(self, name: str) -> str:
        return f"s3://{BUCKET}/{name}-{uuid.uuid4().hex[:6]}/"

    def upload(self, prefix: str, path, key: str, modified: datetime | None = None) -> str:
        bucket, folder = prefix.removeprefix("s3://").split("/", 1)
        self.s3.upload_file(str(path), bucket, folder + key)
        if modified is not None:
            backdate(bucket, folder + key, modified)
        return f"{prefix}{key}"

    def next_boundary(self, margin: float = 15) -> datetime:
        """The end of the next scheduled interval, at least ``margin`` seconds away, with no run active and
        no scheduled run due before it: a Variable set now is read by that interval's run and no other.
        (``margin``: time for a test's few uploads and Variables before the boundary; each second of it adds
        to the expected wait for a boundary of the one-minute schedule.)

        The boundary is the scheduler's own plan (the DAG's next run), so a boundary just passed whose run the
        scheduler has not created yet is never mistaken for a quiet moment."""
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            boundary = self.api.next_scheduled_run_after()
            if boundary is not None and (boundary - datetime.now(UTC)).total_seconds() >= margin:
                self.wait_until_idle()  # runs created before the plan moved on are over
                if (boundary - datetime.now(UTC)).total_seconds() >= margin:
                    return boundary
            time.sleep(2)
        raise TimeoutError("the scheduler planned no next run")

    def wait_until_idle(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(r.state.value in ("success", "failed") for r in self.api.list_runs()):
                return
            time.sleep(2)
        raise TimeoutError("runs still active")

    def scheduled_run_ending(self, end: datetime, timeout: float = 400):
        """Wait for the scheduler's run of the interval ending at ``end`` to finish; return it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for run in self.api.list_runs():
                if run.run_type.value == "scheduled" and run.data_interval_end == end:
                    self.api.wait_for_run(run.dag_run_id, timeout=max(deadline - time.monotonic(), 1))
                    return self.api.run(run.dag_run_id)
            time.sleep(2)
        raise TimeoutError(f"no scheduled run ending at {end}")


def deploy(s3_server, home, database_prefix: str, settings: dict[str, str] | None = None, sources=None):
    """Start a deployment, yield it, and take it down with its databases (a generator for fixtures);
    ``sources``: more sources beside the default one (``Stack.sources``), their DAGs unpaused but
    ``PAUSED_SOURCES``'."""
    host, port = s3_server.endpoint.removeprefix("http://").split(":")
    proxy = FlakyProxy((host, int(port)))
    subprocess.run(["redis-cli", "-n", "7", "flushdb"], check=True, capture_output=True)
    stack = Stack(
        home=home,
        bucket=BUCKET,
        api_port=free_port(),
        lineage_port=free_port(),
        s3_endpoint=proxy.endpoint,
        database_prefix=database_prefix,
        redis_db=7,
        worker_concurrency=4,
        event_queue=None,
        sources=sources or {},
        settings={
            "OCR_SCHEDULE": f"*/{SCHEDULE_MINUTES} * * * *",
            "OCR_SOURCE_URI": IDLE_SOURCE,
            # the sensor's defaults (6 hours, a poke a minute), as deployed: no run with a closed window waits
            "OCR_RETRY_DELAY_SECONDS": "2",
            # a task whose worker died is failed (and retried) this soon
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
            # a task whose Celery message was lost (the broker restarted) is queued again this soon (default 600 s)
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "45",
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "10",  # how often it looks (default 120 s)
            **(settings or {}),
        },
    )
    stack.drop_databases()
    stack.flush_broker()  # a clean start, as a new machine's: nothing an aborted earlier run queued
    try:
        stack.up()
        api = AirflowApi(stack.api_url, stack.user, stack.password)
        api.wait_for_dag()
        api.pause(False)
        for name in sources or {}:
            api.for_dag(f"document_ingest__{name}").wait_for_dag()
            api.for_dag(f"document_ingest__{name}").pause(name in PAUSED_SOURCES)
        yield Deployment(stack, api, proxy, s3_server.client())
    finally:
        stack.down()
        proxy.close()
        stack.drop_databases()


@pytest.fixture(scope="session")
def deployment(s3_server, tmp_path_factory):
    """The default deployment (the local launcher), shared by the modules whose cases do not interfere
    (each works under prefixes of its own and leaves no run active)."""
    yield from deploy(s3_server, tmp_path_factory.mktemp("stack"), "ocr_systest", sources=SOURCES)


@pytest.fixture
def api(deployment) -> AirflowApi:
    return deployment.api
