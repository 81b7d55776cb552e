"""A batch's report into catalog rows: outputs checked, thin documents flagged, absentees failed."""

from __future__ import annotations

from datetime import UTC, datetime

from ocr_pipeline.rows import batch_rows
from ocr_task.contract import ManifestDocument, Outputs, Report, ReportEntry, ReportSummary

LISTED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def _document(name: str) -> ManifestDocument:
    return ManifestDocument(source=f"s3://docs/in/{name}", etag="e")


def _entry(name: str, characters: int, pages: int = 2) -> ReportEntry:
    outputs = Outputs(
        text=f"s3://docs/out/{name}.txt",
        markdown=f"s3://docs/out/{name}.md",
        json=f"s3://docs/out/{name}.json",
    )
    return ReportEntry(
        source=f"s3://docs/in/{name}", name=name, status="succeeded", pages=pages, outputs=outputs, seconds=1.0,
        engines=["tesseract 5.5.4"], characters=characters, mean_confidence=0.9,
    )  # fmt: skip


def test_rows_from_a_report():
    documents = [_document(n) for n in ("full.pdf", "blank.pdf", "lost.pdf", "gone.pdf")]
    entries = [_entry("full.pdf", 3000), _entry("blank.pdf", 40), _entry("lost.pdf", 2000)]
    report = Report(
        output="s3://docs/out/", engine="auto", started_at="", finished_at="", seconds=3.0,
        summary=ReportSummary(documents=3, succeeded=3, failed=0, pages=6), documents=entries,
    )  # fmt: skip
    written = {u for e in entries for u in (e.outputs.text, e.outputs.markdown, e.outputs.json_)}
    written.discard("s3://docs/out/lost.pdf.json")

    listing = {(d.source, d.etag): {"size": 1, "last_modified": LISTED_AT} for d in documents}
    rows = {
        r.source_uri.rsplit("/", 1)[1]: r
        for r in batch_rows("0001", documents, report, listing, written.__contains__, 50, 2)
    }
    # what the listing said rides from the run's claims, for every row, failed or not
    assert {(r.size, r.last_modified) for r in rows.values()} == {(1, LISTED_AT)}

    assert (rows["full.pdf"].status, rows["full.pdf"].low_text, rows["full.pdf"].try_number) == (
        "succeeded",
        False,
        2,
    )
    assert (
        rows["full.pdf"].engine == "tesseract 5.5.4"
        and rows["full.pdf"].json_uri == "s3://docs/out/full.pdf.json"
    )
    assert (rows["blank.pdf"].status, rows["blank.pdf"].low_text) == (
        "succeeded",
        True,
    )  # 20 characters a page
    assert rows["lost.pdf"].status == "failed"
    assert rows["lost.pdf"].error == "output missing after OCR: s3://docs/out/lost.pdf.json"
    assert (rows["gone.pdf"].status, rows["gone.pdf"].error) == (
        "failed",
        "missing from the OCR report",
    )
    # lost outputs and absent entries are the infrastructure's failures: the next run takes them again
    assert {n: r.retryable for n, r in rows.items()} == {
        "full.pdf": False,
        "blank.pdf": False,
        "lost.pdf": True,
        "gone.pdf": True,
    }


def _list_calls(hook) -> list[str]:
    """The prefixes of the LIST requests ``hook``'s client sends from now on."""
    calls: list[str] = []
    hook.get_conn().meta.events.register(
        "provide-client-params.s3.ListObjectsV2", lambda params, **_: calls.append(params["Prefix"])
    )
    return calls


def test_outputs_found_by_listing_a_batch_together_in_s3(s3):
    """The catalog task lists a batch's outputs in the real S3 API in one LIST of what their names share: a
    missing output, or one of another version of the same key, is not taken for this one's."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from ocr_pipeline.tasks import existing_objects

    for key in ("out/a.pdf@e1.txt", "out/a.pdf@e1.md", "out/a.pdf@e2.json", "out/b.pdf@e1.txt"):
        s3.put_object(Bucket="docs", Key=key, Body=b"x")
    hook = S3Hook()
    lists = _list_calls(hook)
    found = existing_objects(hook, ["s3://docs/out/a.pdf@e1.", "s3://docs/out/b.pdf@e1.", "s3://docs/out/c.pdf@e1."])
    expected = ["s3://docs/out/a.pdf@e1.txt", "s3://docs/out/a.pdf@e1.md", "s3://docs/out/b.pdf@e1.txt"]
    assert {uri for uri in found if uri.startswith(("s3://docs/out/a.pdf@e1.", "s3://docs/out/b.pdf@e1."))} == set(expected)
    assert not {"s3://docs/out/a.pdf@e1.json", "s3://docs/out/c.pdf@e1.txt"} & found
    assert lists == ["out/"]


def test_outputs_in_a_crowded_folder_listed_document_by_document(s3, monkeypatch):
    """Where the batch's outputs share a folder of many more objects (every earlier output of a flat source),
    listing it all would cost more than it saves: past the budget, one LIST per document."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from ocr_pipeline import tasks

    monkeypatch.setattr(tasks, "LIST_PAGE_KEYS", 4)  # pages and budget as for 1,000s of keys, with a few
    monkeypatch.setattr(tasks, "LISTED_TOGETHER_PER_PREFIX", 3)
    for n in range(7):
        s3.put_object(Bucket="docs", Key=f"out/earlier-{n}.pdf@e0.txt", Body=b"x")
    for key in ("out/a.pdf@e1.txt", "out/b.pdf@e1.txt"):
        s3.put_object(Bucket="docs", Key=key, Body=b"x")
    hook = S3Hook()
    lists = _list_calls(hook)
    found = tasks.existing_objects(hook, ["s3://docs/out/a.pdf@e1.", "s3://docs/out/b.pdf@e1."])
    assert found == {"s3://docs/out/a.pdf@e1.txt", "s3://docs/out/b.pdf@e1.txt"}
    assert sorted(lists) == ["out/", "out/", "out/a.pdf@e1.", "out/b.pdf@e1."]  # two pages of the budget, then each
