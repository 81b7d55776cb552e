"""Event mode's latency against ``make stack``: upload to catalogued, and how many runs the uploads make.

    make stack            # in another shell: the Celery deployment, event mode on (queue docs-created)
    .venv/bin/python bench/event_latency.py [--steady 20] [--interval 8] [--burst 200]

1. ``--steady`` one-page scans (one printed line each) uploaded one every ``--interval`` seconds;
2. then ``--burst`` of them uploaded as fast as one client can.

For each phase: upload-to-catalogued latency (p50, p95, max; the catalog row's ``processed_at`` against the
time the upload returned) and runs per 100 documents. Then where an event run's time goes: for the runs of
the steady phase, the median time from the run's creation to its first task, and each task's median
duration and its wait after the task before it (the REST API's task instances).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import boto3
import requests

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "plugins")]

from ocr_pipeline.catalog import Catalog  # noqa: E402
from scripts.stack import Stack  # noqa: E402
from tests.samples import small_image  # noqa: E402

TASKS = ("discover", "ocr", "catalog")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def wait_for_rows(catalog: Catalog, uploaded: dict[str, datetime], timeout: float) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = {r["source_uri"]: r for r in catalog.rows() if r["source_uri"] in uploaded}
        if len(rows) == len(uploaded):
            return rows
        time.sleep(1)
    raise TimeoutError(f"{len(uploaded) - len(rows)} of {len(uploaded)} not catalogued in {timeout:.0f} s")


def report(name: str, uploaded: dict[str, datetime], rows: dict[str, dict]) -> None:
    latencies = [(rows[u]["processed_at"] - t).total_seconds() for u, t in uploaded.items()]
    runs = {r["run_id"] for r in rows.values()}
    print(f"{name}: {len(uploaded)} uploads, upload to catalogued p50 {percentile(latencies, 0.5):.1f} s, "
          f"p95 {percentile(latencies, 0.95):.1f} s, max {max(latencies):.1f} s; "
          f"{len(runs)} runs ({100 * len(runs) / len(uploaded):.1f} per 100 documents)")  # fmt: skip


def api_headers(stack: Stack) -> dict[str, str]:
    token = requests.post(f"{stack.api_url}/auth/token", json={"username": stack.user, "password": stack.password},
                          timeout=30).json()["access_token"]  # fmt: skip
    return {"Authorization": f"Bearer {token}"}


def unpause(stack: Stack) -> None:
    """``make stack`` leaves the DAG paused, as Airflow does a new DAG: event runs need it unpaused."""
    answer = requests.patch(f"{stack.api_url}/api/v2/dags/document_ingest", json={"is_paused": False},
                            headers=api_headers(stack), timeout=30)  # fmt: skip
    answer.raise_for_status()


def breakdown(stack: Stack, run_ids: set[str]) -> None:
    """Median wait before and duration of each task of these runs, from the REST API."""
    headers = api_headers(stack)
    waits: dict[str, list[float]] = {t: [] for t in TASKS}
    durations: dict[str, list[float]] = {t: [] for t in TASKS}
    for run_id in run_ids:
        base = f"{stack.api_url}/api/v2/dags/document_ingest/dagRuns/{run_id}"
        run = requests.get(base, headers=headers, timeout=30).json()
        instances = requests.get(f"{base}/taskInstances", headers=headers, timeout=30).json()["task_instances"]
        by_task = {ti["task_id"]: ti for ti in instances if ti.get("start_date") and ti.get("end_date")}
        previous_end = datetime.fromisoformat(run["queued_at"])
        for task in TASKS:
            if task not in by_task:
                break
            start, end = (datetime.fromisoformat(by_task[task][k]) for k in ("start_date", "end_date"))
            waits[task].append((start - previous_end).total_seconds())
            durations[task].append((end - start).total_seconds())
            previous_end = end
    print(f"where an event run's time goes (median over {len(run_ids)} runs; wait: since the run was queued "
          "or the task before ended)")  # fmt: skip
    for task in TASKS:
        if durations[task]:
            print(f"  {task:20} wait {statistics.median(waits[task]):5.1f} s   run {statistics.median(durations[task]):5.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steady", type=int, default=20)
    parser.add_argument("--interval", type=float, default=8.0)
    parser.add_argument("--burst", type=int, default=200)
    args = parser.parse_args()
    stack = Stack()
    catalog = Catalog(stack.catalog_url)
    s3 = boto3.client("s3", endpoint_url=stack.endpoint, region_name="us-east-1",
                      aws_access_key_id="stack", aws_secret_access_key="stack")  # fmt: skip
    page = Path(tempfile.mkdtemp()) / "line.png"
    small_image(["Invoice 1207 paid on 2 December 2026"], 30, 760).image.save(page)
    folder = f"incoming/event-bench-{uuid.uuid4().hex[:6]}"
    unpause(stack)
    time.sleep(30)  # the scheduler's first runs of the unpaused DAG (the backlog, the day's schedule) go first

    steady: dict[str, datetime] = {}
    start = time.monotonic()
    for n in range(args.steady):
        time.sleep(max(0.0, start + n * args.interval - time.monotonic()))
        s3.upload_file(str(page), stack.bucket, f"{folder}/steady/{n:03}.png")
        steady[f"s3://{stack.bucket}/{folder}/steady/{n:03}.png"] = datetime.now(UTC)
    steady_rows = wait_for_rows(catalog, steady, timeout=600)
    report(f"steady, one every {args.interval:g} s", steady, steady_rows)

    burst: dict[str, datetime] = {}
    for n in range(args.burst):
        s3.upload_file(str(page), stack.bucket, f"{folder}/burst/{n:04}.png")
        burst[f"s3://{stack.bucket}/{folder}/burst/{n:04}.png"] = datetime.now(UTC)
    report("burst", burst, wait_for_rows(catalog, burst, timeout=1800))
    breakdown(stack, {r["run_id"] for r in steady_rows.values()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
