"""document_ingest end to end with dag.test(): real S3 API (moto server), real catalog (SQLite and PostgreSQL), real OCR."""

from __future__ import annotations

import json

import pytest

from tests.dags.conftest import BUCKET, load_dag
from tests.samples import cer

pytestmark = pytest.mark.usefixtures("airflow_db")


def upload(client, sample_docs, names, prefix="incoming/2024/"):
    for name in names:
        client.upload_file(str(sample_docs[name].path), BUCKET, prefix + name)


def catalog_rows(url: str) -> list[dict]:
    from ocr_pipeline.catalog import Catalog

    return Catalog(url).rows()


def run(dag, **conf):
    from airflow.utils.state import DagRunState

    dag_run = dag.test(run_conf=conf or None)
    assert dag_run.state == DagRunState.SUCCESS, dag_run.state
    return dag_run


def task_states(dag_run) -> dict[str, list[str]]:
    states: dict[str, list[str]] = {}
    for ti in dag_run.get_task_instances():
        states.setdefault(ti.task_id, []).append(str(ti.state))
    return states


def read(client, uri: str) -> bytes:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_ingest_catalog_rerun_and_changed_object(s3, catalog_url, sample_docs):
    upload(s3, sample_docs, ["english.png", "russian_scan.jpg", "born_digital.pdf"])
    s3.put_object(Bucket=BUCKET, Key="incoming/2024/broken.pdf", Body=b"%PDF-1.4\n% truncated in transit")
    dag = load_dag()

    first = run(dag, batch_size=2)

    rows = {r["source_uri"].rsplit("/", 1)[1]: r for r in catalog_rows(catalog_url)}
    assert set(rows) == {"english.png", "russian_scan.jpg", "born_digital.pdf", "broken.pdf"}
    broken = rows.pop("broken.pdf")
    assert broken["status"] == "failed" and "corrupt or truncated PDF" in broken["error"]
    assert broken["quarantine_uri"] == f"s3://{BUCKET}/quarantine/2024/broken.pdf"
    assert read(s3, broken["quarantine_uri"]) == b"%PDF-1.4\n% truncated in transit"
    assert s3.head_object(Bucket=BUCKET, Key="incoming/2024/broken.pdf")  # copied, not moved
    for name, row in rows.items():
        assert row["status"] == "succeeded", row["error"]
        assert row["text_uri"] == f"s3://{BUCKET}/processed/2024/{name}@{row['etag'][:12]}.txt"
        assert cer(sample_docs[name].text, read(s3, row["text_uri"]).decode()) < 0.03
        assert read(s3, row["json_uri"]) and read(s3, row["markdown_uri"])
        assert row["pdf_uri"] == row["text_uri"].removesuffix(".txt") + ".pdf"
        assert read(s3, row["pdf_uri"]).startswith(b"%PDF-")  # the searchable PDF (tests/ocr_task/test_searchable_pdf.py)
        assert (
            row["pages"] >= 1
            and row["characters"] > 500
            and row["engine"].startswith(("tesseract", "pdf-text-layer"))
        )
        assert (row["dag_id"], row["run_id"], row["try_number"]) == ("document_ingest", first.run_id, 1)
        assert row["etag"] == s3.head_object(Bucket=BUCKET, Key=f"incoming/2024/{name}")["ETag"].strip('"')
        assert row["low_text"] is False
    assert len({r["batch_id"] for r in rows.values()}) == 2  # batch_size=2: four documents, two batches

    manifest_key = next(
        o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="processed/_catalog/")["Contents"]
    )
    lines = [json.loads(line) for line in read(s3, f"s3://{BUCKET}/{manifest_key}").decode().splitlines()]
    assert manifest_key.startswith("processed/_catalog/dt=") and len(lines) == 4
    assert {line["status"] for line in lines} == {"succeeded", "failed"}

    # Nothing new: the second run processes nothing and the catalog is unchanged.
    second = run(dag)
    assert len(catalog_rows(catalog_url)) == 4
    assert task_states(second)["ocr"] == ["skipped"]

    # A changed object (new ETag) is new work.
    s3.upload_file(str(sample_docs["two_column.png"].path), BUCKET, "incoming/2024/english.png")
    run(dag)
    english = [r for r in catalog_rows(catalog_url) if r["source_uri"].endswith("english.png")]
    assert len(english) == 2 and english[0]["etag"] != english[1]["etag"]
    assert english[1]["status"] == "succeeded"
    assert english[0]["text_uri"] != english[1]["text_uri"]  # each version keeps its own outputs
    assert cer(sample_docs["two_column.png"].text, read(s3, english[1]["text_uri"]).decode()) < 0.02


def test_ocr_tasks_emit_asset_events_and_openlineage_datasets(s3, sample_docs, sqlite_catalog, airflow_db):
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    lineage_file = airflow_db / "openlineage.jsonl"
    seen = lineage_file.read_text().count("\n") if lineage_file.exists() else 0
    upload(s3, sample_docs, ["english.png"])
    s3.put_object(Bucket=BUCKET, Key="incoming/2024/empty.png", Body=b"")

    dag_run = run(load_dag())

    with create_session() as session:
        events = [
            (e.asset.uri, e.extra)
            for e in session.query(AssetEvent).all()
            if e.source_run_id == dag_run.run_id
        ]
    assert len(events) == 1
    uri, figures = events[0]
    assert uri.rstrip("/") == f"s3://{BUCKET}/processed"
    assert (figures["documents"], figures["succeeded"], figures["failed"], figures["pages"]) == (2, 1, 1, 1)

    new_events = [json.loads(line) for line in lineage_file.read_text().splitlines()[seen:]]
    complete = [
        e for e in new_events if e["eventType"] == "COMPLETE" and e["job"]["name"] == "document_ingest.ocr"
    ]
    assert len(complete) == 1
    inputs = {(d["namespace"], d["name"]) for d in complete[0]["inputs"]}
    outputs = {(d["namespace"], d["name"]) for d in complete[0]["outputs"]}
    assert inputs == {("s3://docs", "incoming/2024/english.png"), ("s3://docs", "incoming/2024/empty.png")}
    etag = s3.head_object(Bucket=BUCKET, Key="incoming/2024/english.png")["ETag"].strip('"')[:12]
    assert outputs == {("s3://docs", f"processed/2024/english.png@{etag}.{ext}") for ext in ("txt", "md", "json", "pdf")}
