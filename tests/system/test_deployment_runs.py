"""Scheduled, manual and backfill runs on the real deployment (CeleryExecutor, PostgreSQL, Redis), driven
through the REST API as the UI drives it; every case checks the catalog rows and the outputs in S3."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from tests.openlineage_events import event_problems
from tests.samples import cer
from tests.system.conftest import IDLE_SOURCE, Deployment

pytestmark = pytest.mark.system


def _names(rows: list[dict]) -> Counter:
    return Counter(r["source_uri"].rsplit("/", 1)[1] for r in rows)


def _assert_outputs(deployment: Deployment, rows: list[dict], sample_docs=None) -> None:
    for row in rows:
        if row["status"] != "succeeded":
            continue
        text = deployment.read(row["text_uri"]).decode()
        assert deployment.read(row["markdown_uri"]) and deployment.read(row["json_uri"])
        assert deployment.read(row["pdf_uri"]).startswith(b"%PDF-")
        name = row["source_uri"].rsplit("/", 1)[1]
        if sample_docs and name in sample_docs:
            assert cer(sample_docs[name].text, text) < 0.03, name


MIXED = ("english.png", "russian_scan.jpg", "two_pages.tiff", "scanned.pdf")
BROKEN = b"%PDF-1.4\n% truncated in transit"


@pytest.fixture(scope="module")
def mixed_run(deployment, sample_docs) -> tuple[str, str]:
    """A manual run of four good documents and a broken one in batches of two: (its prefix, its run id)."""
    prefix = deployment.new_prefix("manual")
    for name in MIXED:
        deployment.upload(prefix, sample_docs[name].path, name)
    deployment.s3.put_object(Bucket="system", Key=prefix.split("/", 3)[3] + "broken.pdf", Body=BROKEN)
    run_id = deployment.api.trigger({"source_uri": prefix, "batch_size": 2, "not_a_param": "ignored"})
    deployment.api.wait_for_run(run_id)
    return prefix, run_id


def test_manual_run_of_a_mixed_batch(deployment, api, sample_docs, mixed_run):
    prefix, run_id = mixed_run
    assert api.run(run_id).state.value == "success"
    rows = deployment.catalog_rows(prefix)
    assert _names(rows) == Counter([*MIXED, "broken.pdf"])
    by_name = {r["source_uri"].rsplit("/", 1)[1]: r for r in rows}
    broken = by_name.pop("broken.pdf")
    assert broken["status"] == "failed" and "corrupt or truncated PDF" in broken["error"]
    assert deployment.read(broken["quarantine_uri"]) == BROKEN
    assert {n: r["status"] for n, r in by_name.items()} == dict.fromkeys(by_name, "succeeded")
    assert by_name["two_pages.tiff"]["pages"] == 2 and by_name["scanned.pdf"]["pages"] == 2
    assert {r["run_id"] for r in rows} == {run_id}
    _assert_outputs(deployment, rows, sample_docs)
    states = api.task_states(run_id)
    assert states["ocr"] == ["success"] * 3 and states["catalog"] == ["success"]
    assert "Catalogued" in api.log(run_id, "catalog")
    # the catalog task reads the OCR tasks' values without asking for one past the last, which the worker
    # would log as an error in every run
    worker_log = (deployment.stack.home / "logs" / "worker.log").read_text(errors="replace")
    assert not [line for line in worker_log.splitlines() if "XCom not found" in line and run_id in line]
    # the worker imported the DAG side as it started (ocr_pipeline.celery_config), and nothing of it failed
    assert "DAG side preloaded" in worker_log and "preloading" not in worker_log


def test_the_lineage_consumer_receives_the_runs_lineage_by_the_spec(deployment, api, mixed_run):
    """What a lineage user looks at, as the consumer on loopback received it over the HTTP transport."""
    prefix, run_id = mixed_run
    events = lineage_of_run(deployment, run_id)
    assert [p for e in events for p in event_problems(e)] == []
    namespace = deployment.stack.lineage_namespace
    assert {e["job"]["namespace"] for e in events} == {namespace}

    dag_run = [e for e in events if e["job"]["name"] == "document_ingest"]
    assert [e["eventType"] for e in dag_run] == ["START", "COMPLETE"]
    dag_run_id = dag_run[0]["run"]["runId"]

    # every task instance that ran: its START and its end, under the DAG run
    ran = {(t.task_id, t.map_index): t.state.value for t in api.task_instances_of(run_id) if t.state.value in ("success", "failed")}
    seen: dict[tuple, list[str]] = {}
    for event in events:
        if event["job"]["name"].startswith("document_ingest."):
            facets = event["run"]["facets"]
            assert facets["parent"]["run"]["runId"] == dag_run_id
            index = facets["airflow"]["taskInstance"].get("map_index", -1)
            seen.setdefault((event["job"]["name"].removeprefix("document_ingest."), index), []).append(event["eventType"])
    assert seen == {key: ["START", "COMPLETE" if state == "success" else "FAIL"] for key, state in ran.items()}

    # ocr: the sources as inputs, only the outputs that exist as outputs, and the batch tied to its Airflow run
    ocr = [e for e in events if e["job"]["name"] == "document_ingest.ocr" and e["eventType"] == "COMPLETE"]
    bucket, folder = prefix.removeprefix("s3://").split("/", 1)
    sources = {(f"s3://{bucket}", folder + name) for name in (*MIXED, "broken.pdf")}
    assert {(d["namespace"], d["name"]) for e in ocr for d in e["inputs"]} == sources
    rows = deployment.catalog_rows(prefix)
    written = {(f"s3://{bucket}", uri.split("/", 3)[3]) for r in rows if r["status"] == "succeeded"
               for uri in (r["text_uri"], r["markdown_uri"], r["json_uri"], r["pdf_uri"])}  # fmt: skip
    assert {(d["namespace"], d["name"]) for e in ocr for d in e["outputs"]} == written
    assert not any("broken" in name for _, name in written)
    batches = [e["run"]["facets"]["ocrBatch"] for e in ocr]
    assert {b["dagRunId"] for b in batches} == {run_id} and len({b["batchId"] for b in batches}) == 3
    assert sum(b["documents"] for b in batches) == 5 and sum(b["failed"] for b in batches) == 1

    # catalog: the catalog's table, named by the OpenLineage conventions for PostgreSQL
    catalog = [e for e in events if e["job"]["name"] == "document_ingest.catalog" and e["eventType"] == "COMPLETE"]
    database = deployment.stack.catalog_url.rsplit("/", 1)[1]
    outputs = {(d["namespace"], d["name"]) for d in catalog[0]["outputs"]}
    assert ("postgres://127.0.0.1:5432", f"{database}.public.documents") in outputs


def lineage_of_run(deployment: Deployment, run_id: str, timeout: float = 60) -> list[dict]:
    """The events of one Airflow run, once the DAG run's own end event has arrived (the scheduler sends it)."""
    deadline = time.monotonic() + timeout
    while True:
        events = deployment.stack.lineage_events()
        dag_runs = {
            e["run"]["runId"] for e in events
            if e["run"]["facets"].get("airflowDagRun", {}).get("dagRun", {}).get("run_id") == run_id
        }  # fmt: skip
        mine = [e for e in events if e["run"]["runId"] in dag_runs
                or e["run"]["facets"].get("parent", {}).get("run", {}).get("runId") in dag_runs]  # fmt: skip
        if any(e["job"]["name"] == "document_ingest" and e["eventType"] != "START" for e in mine):
            return mine
        if time.monotonic() > deadline:
            raise TimeoutError(f"the consumer received no end event for run {run_id}")
        time.sleep(1)


def test_scheduled_run_takes_its_interval_and_the_backlog_before_it_and_nothing_after(deployment, api, sample_docs):
    prefix = deployment.new_prefix("scheduled")
    end = deployment.next_boundary()
    api.set_variable("ocr_source_uri", prefix)
    try:
        deployment.upload(prefix, sample_docs["english.png"].path, "backlog.png", end - timedelta(days=3))
        deployment.upload(prefix, sample_docs["russian.png"].path, "in_interval.png", end - timedelta(seconds=40))
        deployment.upload(prefix, sample_docs["page.bmp"].path, "after_end.bmp", end + timedelta(seconds=1))
        run = deployment.scheduled_run_ending(end)
    finally:
        api.set_variable("ocr_source_uri", IDLE_SOURCE)

    assert run.state.value == "success"
    rows = deployment.catalog_rows(prefix)
    assert _names(rows) == Counter(["backlog.png", "in_interval.png"])  # not the one modified after its end
    assert {(r["status"], r["run_id"]) for r in rows} == {("succeeded", run.dag_run_id)}
    _assert_outputs(deployment, rows)


def test_backfill_takes_exactly_its_intervals_and_a_second_one_rewrites_nothing(deployment, api, sample_docs):
    prefix = deployment.new_prefix("backfill")
    start = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    placed = {
        "before.png": start - timedelta(minutes=1),
        "first.png": start + timedelta(seconds=30),
        "second.png": start + timedelta(seconds=90),
        "third.png": start + timedelta(seconds=150),
        "after.png": start + timedelta(minutes=5),
    }  # one a minute: each of the three intervals has work (empty runs would only add to the suite's time)
    for name, modified in placed.items():
        deployment.upload(prefix, sample_docs["english scan.jpg"].path, name, modified)

    runs = api.wait_for_backfill(
        api.backfill(start, start + timedelta(minutes=3), reprocess="none", conf={"source_uri": prefix})
    )
    assert len(runs) >= 3
    assert {r.state.value for r in runs} == {"success"}
    rows = deployment.catalog_rows(prefix)
    assert _names(rows) == Counter(["first.png", "second.png", "third.png"])
    intervals = {r.dag_run_id: (r.data_interval_start, r.data_interval_end) for r in runs}
    for row in rows:  # each backfill run took exactly the objects of its own interval
        low, high = intervals[row["run_id"]]
        assert low <= row["last_modified"] < high
    _assert_outputs(deployment, rows)
    manifests = deployment.written("processed/_catalog/")

    # the same dates again, "all runs" as the UI offers: cleared, re-run, and nothing written again
    again = api.wait_for_backfill(
        api.backfill(start, start + timedelta(minutes=3), reprocess="completed", conf={"source_uri": prefix})
    )
    assert {r.dag_run_id for r in again} == set(intervals)  # the same runs, cleared and run again
    assert all(a.end_date > max(r.end_date for r in runs) for a in again)
    assert {r.state.value for r in again} == {"success"}
    after = deployment.catalog_rows(prefix)
    assert [(r["source_uri"], r["processed_at"], r["run_id"]) for r in after] == [
        (r["source_uri"], r["processed_at"], r["run_id"]) for r in rows
    ]
    assert deployment.written("processed/_catalog/") == manifests


def test_overlapping_manual_and_scheduled_runs_process_each_document_once(deployment, api, sample_docs):
    prefix = deployment.new_prefix("overlap")
    names = ["english.png", "russian.png", "page.bmp", "english scan.jpg", "russian_scan.jpg", "two_column.png"]
    end = deployment.next_boundary()
    for n, name in enumerate(names):
        deployment.upload(prefix, sample_docs[name].path, name, end - timedelta(hours=1, minutes=n))
    api.set_variable("ocr_source_uri", prefix)
    try:
        while datetime.now(UTC) < end - timedelta(seconds=2):
            time.sleep(0.5)
        manual = api.trigger({"source_uri": prefix, "batch_size": 2})
        scheduled = deployment.scheduled_run_ending(end)
        assert api.wait_for_run(manual) == "success"
    finally:
        api.set_variable("ocr_source_uri", IDLE_SOURCE)

    assert scheduled.state.value == "success"
    rows = deployment.catalog_rows(prefix)
    assert _names(rows) == Counter(names)  # each exactly once
    assert {r["status"] for r in rows} == {"succeeded"}
    assert {r["run_id"] for r in rows} <= {manual, scheduled.dag_run_id}
    planned = deployment.sent_to_ocr(prefix)
    assert set(planned.values()) == {1}, planned  # no document was sent to OCR twice
    _assert_outputs(deployment, rows, sample_docs)
    assert deployment.claims() == []


def test_what_a_runs_capacity_leaves_is_taken_by_the_next_scheduled_run(deployment, api, sample_docs):
    """Capacity 2 (batches of 1, at most 2), three documents: a run takes the two oldest and the next scheduled
    run the third; none stranded. (The first run is a manual one: waiting for two scheduled boundaries
    would add a minute to the suite for the same claim rules.)"""
    prefix = deployment.new_prefix("capacity")
    for n, name in enumerate(["english.png", "russian.png", "page.bmp"]):
        deployment.upload(prefix, sample_docs[name].path, name, datetime.now(UTC) - timedelta(days=1, minutes=3 - n))
    api.set_variable("ocr_max_batches", 2)  # every run's, the idle source's scheduled runs too: they find nothing
    try:
        first = api.trigger({"source_uri": prefix, "batch_size": 1})
        assert api.wait_for_run(first) == "success"
        end = deployment.next_boundary()
        for key, value in (("ocr_source_uri", prefix), ("ocr_batch_size", 1)):
            api.set_variable(key, value)
        second = deployment.scheduled_run_ending(end)
    finally:
        api.set_variable("ocr_source_uri", IDLE_SOURCE)
        api.delete_variable("ocr_batch_size")
        api.delete_variable("ocr_max_batches")

    assert second.state.value == "success"
    rows = {r["source_uri"].rsplit("/", 1)[1]: r["run_id"] for r in deployment.catalog_rows(prefix)}
    assert rows == {"english.png": first, "russian.png": first, "page.bmp": second.dag_run_id}


def test_a_batch_that_fails_after_its_retries_fails_the_run_and_the_next_run_takes_it(deployment, api, sample_docs):
    prefix = deployment.new_prefix("failing")
    deployment.upload(prefix, sample_docs["english.png"].path, "english.png")
    deployment.upload(prefix, sample_docs["russian.png"].path, "russian.png")

    # PaddleOCR-VL without its models cannot load: the OCR step exits 1, every attempt
    failed = api.trigger({"source_uri": prefix, "engine": "paddleocr-vl"})
    assert api.wait_for_run(failed) == "failed"
    ocr = [ti for ti in api.task_instances_of(failed) if ti.task_id == "ocr"]
    assert [(ti.state.value, ti.try_number) for ti in ocr] == [("failed", 3)]
    assert api.task_states(failed)["catalog"] == ["failed"]
    catalog_log = api.log(failed, "catalog")
    assert "did not finish" in catalog_log and "Cause: The OCR step failed with exit code 1" in catalog_log
    assert "PaddleOCR-VL" in catalog_log  # the step's own words: what to fix
    assert deployment.catalog_rows(prefix) == [] and deployment.claims() == []

    retry = api.trigger({"source_uri": prefix})
    assert api.wait_for_run(retry) == "success"
    rows = deployment.catalog_rows(prefix)
    assert _names(rows) == Counter(["english.png", "russian.png"])
    assert {(r["status"], r["run_id"]) for r in rows} == {("succeeded", retry)}


def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(deployment, api, sample_docs):
    prefix = deployment.new_prefix("killed")
    names = ["scanned.pdf", "two_pages.tiff", "born_digital.pdf", "russian_scan.jpg"]
    for name in names:
        deployment.upload(prefix, sample_docs[name].path, name)
    run_id = api.trigger({"source_uri": prefix, "batch_size": 10})
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ocr = [ti for ti in api.task_instances_of(run_id) if ti.task_id == "ocr"]
        if ocr and ocr[0].state and ocr[0].state.value == "running":
            break
        time.sleep(0.5)
    else:
        raise TimeoutError("the OCR task never ran")
    time.sleep(3)  # in the middle of the batch
    assert deployment.stack.kill_component("worker")  # the worker and its tasks die, as with its container
    deployment.stack.start_component("worker")

    assert api.wait_for_run(run_id, timeout=500) == "success"
    (ocr,) = [ti for ti in api.task_instances_of(run_id) if ti.task_id == "ocr"]
    assert ocr.try_number >= 2
    rows = deployment.catalog_rows(prefix)
    assert _names(rows) == Counter(names)
    assert {r["status"] for r in rows} == {"succeeded"} and {r["try_number"] for r in rows} == {ocr.try_number}
    _assert_outputs(deployment, rows, sample_docs)


def test_s3_unreachable_during_discovery_fails_the_run(deployment, api, sample_docs):
    prefix = deployment.new_prefix("s3down")
    deployment.upload(prefix, sample_docs["english.png"].path, "english.png")
    deployment.proxy.blocked = True  # S3 is down for the run's discovery (every attempt)
    try:
        run_id = api.trigger({"source_uri": prefix})
        assert api.wait_for_run(run_id) == "failed"
    finally:
        deployment.proxy.blocked = False
    states = api.task_states(run_id)
    assert states["discover"] == ["failed"] and states["catalog"] == ["upstream_failed"]
    assert [ti.try_number for ti in api.task_instances_of(run_id) if ti.task_id == "discover"] == [3]
    assert deployment.catalog_rows(prefix) == [] and deployment.claims() == []


def _wait_for_running_ocr(api, run_id: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ocr = [ti for ti in api.task_instances_of(run_id) if ti.task_id == "ocr"]
        if ocr and ocr[0].state and ocr[0].state.value == "running":
            return
        time.sleep(0.5)
    raise TimeoutError(f"the OCR task of {run_id} never ran: {api.task_states(run_id)}")


def test_a_run_marked_failed_mid_batch_leaves_its_documents_to_the_next_run(deployment, api, sample_docs):
    """Marked failed through the REST API while its OCR batch works: its claims end with it, so the next
    manual run's sensor finds the documents, and each is catalogued once."""
    prefix = deployment.new_prefix("marked")
    names = ["scanned.pdf", "two_pages.tiff", "russian_scan.jpg", "english.png"]
    for name in names:
        deployment.upload(prefix, sample_docs[name].path, name)
    first = api.trigger({"source_uri": prefix, "batch_size": 10})
    _wait_for_running_ocr(api, first)
    api.mark_failed(first)
    assert api.run(first).state.value == "failed"

    second = api.trigger({"source_uri": prefix})
    assert api.wait_for_run(second) == "success"
    assert api.task_states(second)["discover"] == ["success"]
    rows = deployment.catalog_rows(prefix)
    assert _names(rows) == Counter(names)  # each once
    assert {(r["status"], r["run_id"]) for r in rows} == {("succeeded", second)}
    assert deployment.claims() == []


def test_plan_failing_after_its_retries_leaves_its_documents_to_the_next_run(deployment, api, sample_docs):
    prefix = deployment.new_prefix("noplan")
    for name in ("english.png", "russian.png"):
        deployment.upload(prefix, sample_docs[name].path, name)
    # S3 refuses the batch manifests (Airflow's own writes): discover fails as it plans, every attempt, and catalog never runs
    fault = deployment.proxy.inject(500, "InternalError", path="PUT /system/processed/_batches/", airflow_too=True)
    try:
        first = api.trigger({"source_uri": prefix})
        assert api.wait_for_run(first) == "failed"
    finally:
        deployment.proxy.clear()
    assert fault.answered > 0
    states = api.task_states(first)
    assert states["discover"] == ["failed"] and states["catalog"] == ["upstream_failed"]
    assert [ti.try_number for ti in api.task_instances_of(first) if ti.task_id == "discover"] == [3]
    assert deployment.claims() == []  # given back when the run ended

    second = api.trigger({"source_uri": prefix})
    assert api.wait_for_run(second) == "success"
    rows = deployment.catalog_rows(prefix)
    assert _names(rows) == Counter(["english.png", "russian.png"])
    assert {(r["status"], r["run_id"]) for r in rows} == {("succeeded", second)}


def test_a_manual_run_with_nothing_new_is_skipped_within_a_minute(deployment, api):
    started = time.monotonic()
    run_id = api.trigger({"source_uri": deployment.new_prefix("empty")})
    assert api.wait_for_run(run_id, timeout=60) == "success"
    assert time.monotonic() - started < 60
    states = api.task_states(run_id)
    assert states["discover"] == ["skipped"] and set(sum(states.values(), [])) == {"skipped"}
    assert "its window is closed" in api.log(run_id, "discover")


def test_s3_throttling_then_denying_the_ocr_step_retries_the_batch_and_fails_no_document(deployment, api, sample_docs):
    from ocr_task.storage import S3_RETRIES

    prefix = deployment.new_prefix("outage")
    names = ["english.png", "russian.png", "page.bmp"]
    for name in names:
        deployment.upload(prefix, sample_docs[name].path, name)
    path = prefix.removeprefix("s3:/")  # /system/outage-…/
    attempts = S3_RETRIES + 1  # botocore's tries of each request
    slow = deployment.proxy.inject(503, "SlowDown", path=path, times=len(names) * attempts)  # first attempt
    denied = deployment.proxy.inject(403, "AccessDenied", path=path, times=len(names))  # second attempt
    try:
        run_id = api.trigger({"source_uri": prefix})
        assert api.wait_for_run(run_id, timeout=500) == "success"
    finally:
        deployment.proxy.clear()

    assert (slow.answered, denied.answered) == (len(names) * attempts, len(names))
    (ocr,) = [ti for ti in api.task_instances_of(run_id) if ti.task_id == "ocr"]
    assert (ocr.state.value, ocr.try_number) == ("success", 3)
    assert "not theirs" in api.log(run_id, "ocr", try_number=1, map_index=0)
    rows = deployment.catalog_rows(prefix)
    assert _names(rows) == Counter(names)
    assert {(r["status"], r["retryable"], r["quarantine_uri"]) for r in rows} == {("succeeded", False, None)}
    assert not [k for k in deployment.keys("quarantine/") if k.rsplit("/", 1)[-1] in names]
