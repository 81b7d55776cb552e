"""Several sources in one deployment: the sources file, one DAG per source, each source's run with its own
prefix, output, engine and Variables, into the one catalog (dag.test(), real S3 API, real OCR)."""

from __future__ import annotations

import pytest

from tests.dags.conftest import BUCKET, REPO

pytestmark = pytest.mark.usefixtures("airflow_db")

SOURCES = f"""
default: {{}}
invoices:
  source_uri: s3://{BUCKET}/invoices/
  output_uri: s3://{BUCKET}/invoices-out/
  quarantine_uri: s3://{BUCKET}/invoices-quarantine/
  schedule: "0 3 * * *"
  engine: rapidocr
"""


def sources_file(tmp_path, text: str, monkeypatch=None):
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    if monkeypatch is not None:
        monkeypatch.setenv("OCR_SOURCES_FILE", str(path))
    return path


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("Invoices: {}", "'Invoices' is not a source name"),
        ("a__b: {}", "'a__b' is not a source name"),
        ("a: {catalog_url: 'sqlite:///x.db'}", "which every source shares"),
        ("a: {source: 's3://x/'}", "unknown settings ['source']"),
        ("a: {engine: nonesuch}", "source 'a': invalid pipeline settings"),
        ("a: {}\nb: {source_uri: 's3://other/in/'}", "sources 'a' and 'b' share output_uri"),
        ("a: {output_uri: 's3://o/a/', event_queue_url: q}\nb: {output_uri: 's3://o/b/', event_queue_url: q}",
         "sources 'a' and 'b' share event_queue_url q"),
        ("[a, b]", "must map source names to their settings"),
        ("a: [", "cannot read the sources file"),
        ("", "must map source names"),
    ],
)  # fmt: skip
def test_a_bad_sources_file_is_refused_saying_what_is_wrong(tmp_path, text, error):
    from ocr_pipeline import sources
    from ocr_pipeline.settings import ConfigurationError

    with pytest.raises(ConfigurationError) as refused:
        sources.load(sources_file(tmp_path, text))
    assert error in str(refused.value)


def test_without_a_sources_file_the_environment_is_the_one_source_document_ingest(monkeypatch):
    from ocr_pipeline import sources

    monkeypatch.delenv("OCR_SOURCES_FILE", raising=False)
    (only,) = sources.load()
    assert (only.name, only.dag_id, only.variable_prefix) == ("default", "document_ingest", "ocr_")
    assert only.settings().source_uri == f"s3://{BUCKET}/incoming/"  # the environment's (tests/dags/conftest.py)


def load_dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / "document_ingest.py"))
    assert bag.import_errors == {}, bag.import_errors
    return bag.dags


def test_each_source_is_a_dag_of_its_own_with_its_schedule_form_and_outputs(tmp_path, monkeypatch):
    sources_file(tmp_path, SOURCES, monkeypatch)
    dags = load_dags()
    assert set(dags) == {"document_ingest", "document_ingest__invoices"}
    invoices, default = dags["document_ingest__invoices"], dags["document_ingest"]
    assert invoices.timetable._expression == "0 3 * * *" and default.timetable._expression == "0 2 * * *"
    assert f"s3://{BUCKET}/invoices/" in invoices.params.get_param("source_uri").description
    assert "(rapidocr)" in invoices.params.get_param("engine").description
    outlets = {d: [a.uri for a in dags[d].get_task("ocr").outlets] for d in dags}
    assert outlets == {
        "document_ingest": [f"s3://{BUCKET}/processed"],
        "document_ingest__invoices": [f"s3://{BUCKET}/invoices-out"],  # Airflow normalises an asset URI
    }
    assert "source:invoices" in invoices.tags


def test_a_source_run_takes_its_prefix_into_its_output_with_its_engine_and_variables(
    s3, sample_docs, sqlite_catalog, tmp_path, monkeypatch
):
    from airflow.models import Variable
    from airflow.utils.state import DagRunState

    sources_file(tmp_path, SOURCES, monkeypatch)
    s3.upload_file(str(sample_docs["english.png"].path), BUCKET, "invoices/a.png")
    s3.upload_file(str(sample_docs["english.png"].path), BUCKET, "incoming/b.png")
    Variable.set("ocr_source_uri", f"s3://{BUCKET}/elsewhere/")  # the default source's: not the invoices'
    try:
        dags = load_dags()
        assert dags["document_ingest__invoices"].test().state == DagRunState.SUCCESS
    finally:
        Variable.delete("ocr_source_uri")

    (row,) = sqlite_catalog.rows()
    assert row["source_uri"] == f"s3://{BUCKET}/invoices/a.png" and row["status"] == "succeeded"
    assert row["dag_id"] == "document_ingest__invoices"
    assert row["engine"].startswith("rapidocr") and row["text_uri"].startswith(f"s3://{BUCKET}/invoices-out/")

    Variable.set("ocr_invoices__batch_size", "0")  # a source's own Variable reaches its runs
    try:
        assert dags["document_ingest__invoices"].test().state == DagRunState.FAILED
    finally:
        Variable.delete("ocr_invoices__batch_size")
