"""Retries through a storage outage, data intervals and backfills, and the sensor's timeout."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ocr_pipeline import tasks
from ocr_pipeline.catalog.schema import DocumentRow
from ocr_pipeline.discovery import Selection
from ocr_pipeline.settings import resolve
from ocr_task.storage import S3_RETRIES
from tests.dags.conftest import BUCKET, backdate, load_dag
from tests.dags.test_document_ingest import run, task_states, upload
from tests.s3_proxy import FlakyProxy

pytestmark = pytest.mark.usefixtures("airflow_db")


def test_ocr_retried_after_storage_outage_and_nothing_catalogued_twice(
    s3, s3_server, sqlite_catalog, sample_docs, monkeypatch
):
    upload(s3, sample_docs, ["english.png", "russian.png"])
    host, port = s3_server.endpoint.removeprefix("http://").split(":")
    attempts = S3_RETRIES + 1  # every attempt the OCR step's S3 client makes at its first request
    proxy = FlakyProxy((host, int(port)), drop=attempts)
    connection = {
        "conn_type": "aws", "login": "testing", "password": "testing",
        "extra": {"endpoint_url": proxy.endpoint, "region_name": "us-east-1"},
    }  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    try:
        dag_run = run(load_dag())
    finally:
        proxy.close()

    assert proxy.dropped == attempts
    (ocr,) = [ti for ti in dag_run.get_task_instances() if ti.task_id == "ocr"]
    assert (str(ocr.state), ocr.try_number) == ("success", 2)
    rows = sqlite_catalog.rows()
    assert sorted(r["source_uri"] for r in rows) == [
        f"s3://{BUCKET}/incoming/2024/english.png",
        f"s3://{BUCKET}/incoming/2024/russian.png",
    ]
    assert {(r["status"], r["try_number"]) for r in rows} == {("succeeded", 2)}


def _three_days(s3, sample_docs):
    upload(s3, sample_docs, ["english.png", "russian.png", "page.bmp"])
    backdate(BUCKET, "incoming/2024/english.png", datetime(2024, 3, 1, 12, tzinfo=UTC))
    backdate(BUCKET, "incoming/2024/russian.png", datetime(2024, 3, 5, 12, tzinfo=UTC))


def test_a_manual_run_with_a_date_range_takes_only_that_range(s3, sqlite_catalog, sample_docs):
    _three_days(s3, sample_docs)
    run(load_dag(), date_from="2024-03-01", date_to="2024-03-01")
    assert [r["source_uri"].rsplit("/", 1)[1] for r in sqlite_catalog.rows()] == ["english.png"]


def test_each_kind_of_run_selects_by_its_own_rule(s3, sqlite_catalog, sample_docs):
    """Run types as the Task SDK passes them: a (str, Enum) whose str() is not its value."""
    from airflow.sdk.api.datamodels._generated import DagRunType

    _three_days(s3, sample_docs)  # 1 March, 5 March, and page.bmp now
    backfill_day = (datetime(2024, 3, 5, 2, tzinfo=UTC), datetime(2024, 3, 6, 2, tzinfo=UTC))
    settings = resolve({})

    def claimed(run_type, interval, params=None) -> list[dict]:
        selection = Selection.for_run(run_type, *interval, params)
        tasks.discover(settings, selection, "document_ingest", "probe", tasks.open_catalog(settings, "probe", lambda dag_id, run_id: False, 1024))
        found = sqlite_catalog.claimed("probe")
        sqlite_catalog.release("probe")
        return found

    def keys(run_type, interval, params=None):
        return [c["source_uri"].rsplit("/", 1)[1] for c in claimed(run_type, interval, params)]

    assert str(DagRunType.SCHEDULED) != "scheduled"  # the trap the old comparison fell into
    # scheduled: the backlog before its interval's end, oldest first; nothing after it
    assert keys(DagRunType.SCHEDULED, backfill_day) == ["english.png", "russian.png"]
    # backfill: exactly its interval
    assert keys(DagRunType.BACKFILL, backfill_day) == ["russian.png"]
    # manual: everything new, or the form's dates
    assert keys(DagRunType.MANUAL, (None, None)) == ["english.png", "russian.png", "page.bmp"]
    assert keys(DagRunType.MANUAL, (None, None), {"date_from": "2024-03-05", "date_to": "2024-03-05"}) == [
        "russian.png"
    ]

    # once catalogued, the same interval holds nothing new: running the backfill again adds nothing
    objects = claimed(DagRunType.BACKFILL, backfill_day)
    sqlite_catalog.upsert([DocumentRow(**o, status="succeeded", processed_at=datetime.now(UTC)) for o in objects])
    assert keys(DagRunType.BACKFILL, backfill_day) == []
    assert keys(DagRunType.BACKFILL, backfill_day, {"reprocess": True}) == ["russian.png"]


def test_max_batches_past_the_mapping_limit_is_refused_before_claiming(s3, sqlite_catalog, sample_docs):
    from airflow.sdk.exceptions import AirflowFailException

    upload(s3, sample_docs, ["english.png"])
    settings = resolve({}).model_copy(update={"max_batches": 2000})
    with pytest.raises(AirflowFailException, match="max_map_length=1024"):
        tasks.discover(settings, Selection(), "document_ingest", "run-1", tasks.open_catalog(settings, "run-1", lambda d, r: True, 1024))
    with sqlite_catalog.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM claims").scalar() == 0
    # the same through a Variable, as a user raises it, in a real run: refused, the run failed, nothing claimed
    from airflow.models import Variable

    Variable.set("ocr_max_batches", "2000")
    try:
        dag_run = load_dag().test()
    finally:
        Variable.delete("ocr_max_batches")
    assert task_states(dag_run)["discover"] == ["failed"] and str(dag_run.state) == "failed"
    assert sqlite_catalog.rows() == []


def test_the_catalog_writes_only_what_this_attempt_produced(s3, sqlite_catalog):
    """A re-run whose plan made no batches (or other batches) never catalogues results an earlier attempt
    left behind (a backfill clearing a finished run; mapped tasks that became 'removed')."""
    from airflow.sdk.exceptions import AirflowSkipException

    from ocr_pipeline.handoffs import Batch, Launched

    # what an earlier attempt's OCR task handed on
    old = Batch(batch_id="old00000-0000", folder=f"s3://{BUCKET}/processed/_batches/old/", documents=1)
    stale = Launched(batch_id=old.batch_id, try_number=1, documents=1, succeeded=1, failed=0, pages=1,
                     report_uri=old.report_uri)  # fmt: skip
    settings = resolve({})
    with pytest.raises(AirflowSkipException):
        tasks.catalog(settings, [], [stale], "document_ingest", "run-1", datetime(2024, 1, 1).date())
    batch = Batch(batch_id="new00000-0000", folder="s3://docs/processed/_batches/new/", documents=1)
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="new00000-0000 did not finish"):
        tasks.catalog(settings, [batch], [stale], "document_ingest", "run-1", datetime(2024, 1, 1).date())
    assert sqlite_catalog.rows() == []


def test_sensor_times_out_into_a_skipped_run(s3, sqlite_catalog, monkeypatch):
    monkeypatch.setenv("OCR_SENSOR_TIMEOUT", "2")
    monkeypatch.setenv("OCR_SENSOR_POKE_SECONDS", "1")
    dag_run = run(load_dag())  # nothing under incoming/: not a failure
    states = task_states(dag_run)
    assert states["discover"] == ["skipped"]
    assert set(sum(states.values(), [])) == {"skipped"}, states
    assert sqlite_catalog.rows() == []


def test_a_sensor_that_cannot_reach_its_bucket_fails_the_run(s3, sqlite_catalog, monkeypatch):
    """Only a timeout skips: NoSuchBucket, AccessDenied or an unreachable endpoint is a failed run."""
    from airflow.utils.state import DagRunState

    monkeypatch.setenv("OCR_SOURCE_URI", "s3://no-such-bucket/incoming/")
    monkeypatch.setenv("OCR_SENSOR_TIMEOUT", "30")
    monkeypatch.setenv("OCR_SENSOR_POKE_SECONDS", "1")
    dag_run = load_dag().test()
    assert dag_run.state == DagRunState.FAILED
    states = task_states(dag_run)
    assert states["discover"] == ["failed"] and states["catalog"] == ["upstream_failed"]


def test_a_sensor_waits_for_new_objects_not_for_any(s3, sqlite_catalog, sample_docs, monkeypatch):
    """Objects already catalogued are not work: the sensor times out (the run is skipped)."""
    upload(s3, sample_docs, ["english.png"])
    run(load_dag())
    assert len(sqlite_catalog.rows()) == 1
    monkeypatch.setenv("OCR_SENSOR_TIMEOUT", "2")
    monkeypatch.setenv("OCR_SENSOR_POKE_SECONDS", "1")
    states = task_states(run(load_dag()))
    assert states["discover"] == ["skipped"] and states["ocr"] == ["skipped"]


@pytest.fixture
def s3_proxy(s3_server, monkeypatch):
    """The S3 server behind a proxy that fails as S3 does when told to; ``aws_default`` points at it."""
    host, port = s3_server.endpoint.removeprefix("http://").split(":")
    proxy = FlakyProxy((host, int(port)))
    connection = {
        "conn_type": "aws", "login": "testing", "password": "testing",
        "extra": {"endpoint_url": proxy.endpoint, "region_name": "us-east-1"},
    }  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    yield proxy
    proxy.close()


def test_an_outage_that_persists_fails_the_run_naming_it_and_records_nothing(
    s3, s3_proxy, sqlite_catalog, sample_docs
):
    from airflow.utils.state import DagRunState

    upload(s3, sample_docs, ["english.png", "russian.png"])
    s3_proxy.inject(403, "AccessDenied", path="/docs/incoming/")
    dag_run = load_dag().test()

    assert dag_run.state == DagRunState.FAILED
    states = task_states(dag_run)
    assert states["ocr"] == ["failed"] and states["catalog"] == ["failed"]
    assert sqlite_catalog.rows() == []  # nothing final: the next run takes both again
    failures = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="processed/_batches/")["Contents"]
                if o["Key"].endswith("failure.txt")]  # fmt: skip
    said = s3.get_object(Bucket=BUCKET, Key=failures[0])["Body"].read().decode()
    assert "exit code 1" in said and "S3 403" in said and "not theirs" in said  # the cause, for the catalog step
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="quarantine/")
    with sqlite_catalog.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM claims").scalar() == 0


def test_one_key_the_role_may_not_read_is_retryable_the_rest_lands_and_the_next_run_takes_it(
    s3, s3_proxy, sqlite_catalog, sample_docs
):
    from airflow.utils.state import DagRunState

    upload(s3, sample_docs, ["english.png", "russian.png", "page.bmp"])
    s3_proxy.inject(403, "AccessDenied", path="/docs/incoming/2024/russian.png")
    first = load_dag().test()
    assert first.state == DagRunState.FAILED  # something failed: never a green run
    rows = {r["source_uri"].rsplit("/", 1)[1]: r for r in sqlite_catalog.rows()}
    denied = rows.pop("russian.png")
    assert (denied["status"], denied["retryable"], denied["quarantine_uri"]) == ("failed", True, None)
    assert "403" in denied["error"]
    assert {r["status"] for r in rows.values()} == {"succeeded"}
    assert task_states(first)["catalog"] == ["failed"]
    s3_proxy.clear()  # the bucket policy is fixed
    second = run(load_dag())
    rows = {r["source_uri"].rsplit("/", 1)[1]: r for r in sqlite_catalog.rows()}
    assert len(rows) == 3 and {r["status"] for r in rows.values()} == {"succeeded"}
    assert rows["russian.png"]["run_id"] == second.run_id and rows["english.png"]["run_id"] == first.run_id


def test_a_run_whose_plan_fails_gives_back_its_claims_and_the_next_run_takes_its_documents(
    s3, sqlite_catalog, sample_docs, monkeypatch
):
    """``discover`` failing as it plans, after its retries, means ``catalog`` never runs: the run's end (the listener) gives the
    claims back, and the next run's sensor sees the documents as new work again."""
    from airflow.utils.state import DagRunState

    upload(s3, sample_docs, ["english.png", "russian.png"])
    monkeypatch.setenv("OCR_OUTPUT_URI", "s3://no-such-output-bucket/processed/")  # manifests cannot be written
    failed = load_dag().test()
    assert failed.state == DagRunState.FAILED
    assert task_states(failed)["discover"] == ["failed"]
    with sqlite_catalog.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM claims").scalar() == 0

    monkeypatch.setenv("OCR_OUTPUT_URI", f"s3://{BUCKET}/processed/")
    second = run(load_dag())
    assert task_states(second)["discover"] == ["success"]
    rows = sqlite_catalog.rows()
    assert len(rows) == 2 and {(r["status"], r["run_id"]) for r in rows} == {("succeeded", second.run_id)}


def test_the_sensor_frees_the_claims_of_runs_that_have_ended(s3, sqlite_catalog, sample_docs):
    """Claims left by a run whose end nobody saw (the listener could not reach the catalog) are free: the
    sensor asks Airflow and finds that run gone."""
    from ocr_pipeline.discovery import SourceObject

    upload(s3, sample_docs, ["english.png"])
    head = s3.head_object(Bucket=BUCKET, Key="incoming/2024/english.png")
    stranded = SourceObject(
        f"s3://{BUCKET}/incoming/2024/english.png", head["ETag"].strip('"'), head["ContentLength"], head["LastModified"]
    )
    sqlite_catalog.claim([stranded], "document_ingest", "manual__a_run_that_was_deleted")

    dag_run = run(load_dag())

    assert task_states(dag_run)["discover"] == ["success"]
    assert [r["run_id"] for r in sqlite_catalog.rows()] == [dag_run.run_id]


def test_a_run_with_nothing_new_ends_at_once(s3, sqlite_catalog, monkeypatch):
    """The default sensor timeout is hours; a run whose window is closed never waits for it, nor for a poke.
    (A poke of 10 minutes: one wait would show however slowly this machine runs the rest; ``make test`` runs
    this half of the suite at a low priority.)"""
    import time

    monkeypatch.setenv("OCR_SENSOR_TIMEOUT", str(6 * 3600))
    monkeypatch.setenv("OCR_SENSOR_POKE_SECONDS", "600")
    started = time.monotonic()
    dag_run = run(load_dag())
    assert time.monotonic() - started < 300
    assert task_states(dag_run)["discover"] == ["skipped"]


def test_reprocess_covers_a_prefix_larger_than_a_run_run_after_run(s3, sqlite_catalog, sample_docs, monkeypatch):
    """Capacity 2, five documents: reprocess runs take the least recently processed first, so three of them
    redo all five; with the first run's cutoff, a fourth finds nothing left."""
    names = ["english.png", "russian.png", "page.bmp", "english scan.jpg", "two_column.png"]
    upload(s3, sample_docs, names)
    processed = datetime(2026, 1, 1, tzinfo=UTC)  # all five catalogued once already
    sqlite_catalog.upsert([
        DocumentRow(source_uri=f"s3://{BUCKET}/incoming/2024/{name}", status="succeeded", processed_at=processed,
                    etag=s3.head_object(Bucket=BUCKET, Key=f"incoming/2024/{name}")["ETag"].strip('"'), run_id="earlier")
        for name in names
    ])  # fmt: skip
    cutoff = datetime.now(UTC).isoformat()
    monkeypatch.setenv("OCR_BATCH_SIZE", "1")
    monkeypatch.setenv("OCR_MAX_BATCHES", "2")

    runs = [run(load_dag(), reprocess=True, reprocess_before=cutoff).run_id for _ in range(3)]

    by_run = {}
    for row in sqlite_catalog.rows():
        by_run.setdefault(row["run_id"], []).append(row["source_uri"].rsplit("/", 1)[1])
    assert sorted(len(by_run.get(r, [])) for r in runs) == [1, 2, 2]  # the last run had one left
    assert sorted(sum((by_run.get(r, []) for r in runs), [])) == sorted(names)  # every one, once
    states = task_states(run(load_dag(), reprocess=True, reprocess_before=cutoff))
    assert states["discover"] == ["skipped"]  # nothing processed before the cutoff is left


def test_a_quarantine_copy_that_fails_fails_the_task_and_a_gone_object_is_passed_over(s3):
    """A reject that could not be copied must not be catalogued as if it had been: the catalog task fails
    (and is retried). An object that is gone has nothing to copy. Retryable failures are not rejects."""
    import logging

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from ocr_pipeline.quarantine import QuarantineFailed, copy_rejected

    s3.put_object(Bucket=BUCKET, Key="incoming/bad.pdf", Body=b"%PDF-1.4 cut")
    hook, log = S3Hook(aws_conn_id="aws_default"), logging.getLogger("test")
    def row(name: str, retryable: bool = False) -> DocumentRow:
        return DocumentRow(source_uri=f"s3://{BUCKET}/incoming/{name}", etag="e", status="failed", retryable=retryable)

    with pytest.raises(QuarantineFailed, match="could not copy"):
        copy_rejected([row("bad.pdf")], hook, f"s3://{BUCKET}/incoming/", "s3://no-such-quarantine/q/", log)

    rows = [row("bad.pdf"), row("gone.pdf"), row("denied.pdf", retryable=True)]
    copy_rejected(rows, hook, f"s3://{BUCKET}/incoming/", f"s3://{BUCKET}/quarantine/", log)
    assert [r.quarantine_uri for r in rows] == [f"s3://{BUCKET}/quarantine/bad.pdf", None, None]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="quarantine/")["Contents"]] == ["quarantine/bad.pdf"]
