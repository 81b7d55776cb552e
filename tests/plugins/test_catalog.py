"""The catalog on real SQLite and PostgreSQL: migrations, claims between overlapping runs, upserts."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event, inspect, update

from ocr_pipeline.catalog import Catalog
from ocr_pipeline.catalog.schema import DocumentRow, claims, metadata
from ocr_pipeline.discovery import SourceObject
from ocr_pipeline.planning import plan
from ocr_pipeline.settings import PipelineSettings
from ocr_task.contract import Manifest


def _search_column(difference) -> bool:
    """What only the migrations know: Alembic's version table, and PostgreSQL's stored tsvector
    (``document_texts.search``) with its index."""
    return "search" in repr(difference) or "ocr_catalog_version" in repr(difference)


def keys(*numbers: int) -> list[tuple[str, str]]:
    return [(f"s3://docs/incoming/{n}.pdf", f"etag{n}") for n in numbers]


def test_migrations_create_the_schema_and_can_run_again(catalog_url):
    catalog = Catalog(catalog_url)
    catalog.migrate()
    catalog.migrate()  # every run calls it: a no-op once at head
    tables = set(inspect(catalog.engine).get_table_names())
    assert {"documents", "claims", "ocr_catalog_version"} <= tables
    # the migrations make exactly the tables the schema declares (a column added to one and not the other fails)
    with catalog.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert [d for d in differences if not _search_column(d)] == []


def test_a_catalog_at_the_newest_migration_is_left_alone_and_an_older_one_is_upgraded(catalog_url, monkeypatch):
    from alembic import command
    from alembic.script import ScriptDirectory

    from ocr_pipeline.catalog import store

    assert store.HEAD == ScriptDirectory(str(store.MIGRATIONS)).get_current_head()  # the files' naming holds
    catalog = Catalog(catalog_url)
    assert catalog.version() is None  # an empty database: no version table yet
    upgrade, upgrades = command.upgrade, []
    monkeypatch.setattr(command, "upgrade", lambda *args: upgrades.append(args[1]) or upgrade(*args))
    catalog.migrate()
    assert (catalog.version(), upgrades) == (store.HEAD, ["head"])
    catalog.migrate()  # at the newest: one SELECT, alembic not run
    assert upgrades == ["head"]

    config = store.alembic_config()
    with catalog.engine.begin() as connection:  # a catalog an older release left
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
    assert catalog.version() == "0005"
    catalog.migrate()
    assert (catalog.version(), upgrades) == (store.HEAD, ["head", "head"])
    assert "pdf_uri" in {column["name"] for column in inspect(catalog.engine).get_columns("documents")}


def alive(*runs):
    """An ``is_active`` for claims: these runs are queued or running, every other has ended."""
    return lambda dag_id, run_id: run_id in runs


def objects(*numbers: int) -> list[SourceObject]:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        SourceObject(uri, etag, 10, base + timedelta(minutes=n))
        for n, (uri, etag) in zip(numbers, keys(*numbers), strict=True)
    ]


def test_overlapping_runs_never_hold_the_same_object(catalog_url):
    catalog = Catalog(catalog_url)
    catalog.migrate()
    assert catalog.claim(objects(1, 2, 3), "d", "run-a") == keys(1, 2, 3)
    assert catalog.claim(objects(2, 3, 4), "d", "run-b") == keys(4)
    assert catalog.claim(objects(1, 2), "d", "run-a") == keys(1, 2)  # a retried claim keeps its own
    catalog.release("run-a", keys(2))
    assert catalog.claim(objects(2, 3), "d", "run-b") == keys(2)
    catalog.release("run-a")
    assert catalog.claim(objects(1, 3), "d", "run-b") == keys(1, 3)


def test_a_page_is_checked_in_one_query_for_finished_and_held_objects(catalog_url):
    catalog = Catalog(catalog_url)
    catalog.migrate()
    catalog.claim(objects(1), "d", "run-a")
    catalog.claim(objects(2), "d", "run-b")
    done = {"status": "succeeded", "processed_at": datetime.now(UTC)}
    catalog.upsert([DocumentRow(source_uri=uri, etag=etag, **done) for uri, etag in keys(3)])
    catalog.upsert([DocumentRow(source_uri=uri, etag=etag, **done | {"status": "failed"}, retryable=True)
                    for uri, etag in keys(4)])  # fmt: skip
    changed = [(keys(3)[0][0], "a-new-etag")]  # the same key with another ETag is another version: work
    page = keys(*range(1, 1001)) + changed

    statements = []

    def count(connection, cursor, statement, *args):
        statements.append(statement)

    event.listen(catalog.engine, "before_cursor_execute", count)
    try:
        unavailable = catalog.unavailable(page, "run-b")
        reprocessing = catalog.unavailable(page, "run-b", reprocess=True)
    finally:
        event.remove(catalog.engine, "before_cursor_execute", count)
    assert len(statements) == 2  # one query a page, 1,001 keys in it
    # held by another run, or finished; not its own claim, not a retryable failure, not another version
    assert unavailable == set(keys(1, 3))
    assert reprocessing == set(keys(1))  # reprocessing: only what another run holds


def test_claims_last_as_long_as_their_run_whatever_its_length(catalog_url):
    catalog = Catalog(catalog_url)
    catalog.migrate()
    catalog.claim(objects(1), "d", "long-run")
    with catalog.engine.begin() as connection:  # claimed days ago: the run still holds it while it is active
        connection.execute(update(claims).values(claimed_at=datetime.now(UTC) - timedelta(days=3)))
    catalog.drop_claims_of_ended_runs("next-run", alive("long-run", "next-run"))
    assert catalog.claim(objects(1), "d", "next-run") == []
    # once the run has ended without giving it back (it failed, a worker died), the next run takes it
    catalog.drop_claims_of_ended_runs("next-run", alive("next-run"))
    assert catalog.claim(objects(1), "d", "next-run") == keys(1)


def test_concurrent_claims_on_postgresql_split_the_objects(request):
    """Eight runs claiming the same 200 objects at once, each in its own connection: no object twice."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.postgres import new_database

    catalog = Catalog(new_database())
    catalog.migrate()
    runs = [f"run-{n}" for n in range(8)]
    with ThreadPoolExecutor(len(runs)) as pool:
        held = list(pool.map(lambda r: catalog.claim(objects(*range(200)), "d", r), runs))
    taken = [k for h in held for k in h]
    assert len(taken) == len(set(taken)) == 200


def test_upsert_keeps_one_row_per_object_and_etag(catalog_url):
    catalog = Catalog(catalog_url)
    catalog.migrate()
    row = {
        "source_uri": "s3://docs/a.pdf",
        "etag": "e1",
        "status": "failed",
        "error": "x",
        "processed_at": datetime.now(UTC),
    }
    catalog.upsert([DocumentRow(**row)])
    catalog.upsert([DocumentRow(**row | {"status": "succeeded", "error": None}, pages=3)])
    catalog.upsert([DocumentRow(**row | {"etag": "e2", "status": "succeeded"})])
    rows = catalog.rows()
    assert [(r["etag"], r["status"], r["pages"]) for r in rows] == [
        ("e1", "succeeded", 3),
        ("e2", "succeeded", None),
    ]
    assert catalog.finished([("s3://docs/a.pdf", "e1"), ("s3://docs/a.pdf", "e3")]) == {
        ("s3://docs/a.pdf", "e1")
    }
    # a row the infrastructure failed (outputs lost) is not final: it is work again
    catalog.upsert([DocumentRow(**row | {"etag": "e4"}, retryable=True)])
    assert catalog.finished([("s3://docs/a.pdf", "e4")]) == set()


def test_a_plan_splits_its_runs_claims_oldest_first_and_writes_a_manifest_each(catalog_url):
    catalog = Catalog(catalog_url)
    catalog.migrate()
    settings = PipelineSettings(catalog_url=catalog_url, batch_size=2, max_batches=10)
    catalog.claim(list(reversed(objects(0, 1, 2))), "d", "run-1")
    catalog.claim(objects(3), "d", "run-2")
    written: dict[str, str] = {}

    batches = plan(settings, catalog, "run-1", written.__setitem__)

    assert [b.documents for b in batches] == [2, 1]
    manifests = [Manifest.model_validate_json(written[b.manifest_uri]) for b in batches]
    assert [[d.source.rsplit("/", 1)[1] for d in m.documents] for m in manifests] == [
        ["0.pdf", "1.pdf"],
        ["2.pdf"],
    ]
    assert manifests[0].documents[0].name == "0.pdf@etag0"
    # what the listing said stays in the claims, for the catalog step: the OCR step is never handed it
    assert catalog.claimed("run-1")[0] == {
        "source_uri": "s3://docs/incoming/0.pdf", "etag": "etag0", "size": 10,
        "last_modified": datetime(2026, 1, 1, tzinfo=UTC),
    }  # fmt: skip
    assert "size" not in written[batches[0].manifest_uri]
    assert manifests[0].report == batches[0].report_uri
    assert batches[0].report_uri.endswith("/0000/report.json") and "/run-1/" in batches[0].report_uri
    assert all(len(b.model_dump_json()) < 300 for b in batches)  # XCom gets references, not documents


def test_a_plan_closes_a_batch_at_its_megabytes_and_leaves_what_is_past_max_batches_to_the_next_run(catalog_url):
    """Large scans fill a batch by their bytes before its document count: a batch of them still ends within
    the OCR task's timeout. The groups past ``max_batches`` go back to being work, not into an unmappable
    run."""
    catalog = Catalog(catalog_url)
    catalog.migrate()
    megabyte = 1024 * 1024
    sizes = {0: 60, 1: 50, 2: 150, 3: 1, 4: 1, 5: 1, 6: 1}  # MB, oldest first
    listed = [dataclasses.replace(o, size=sizes[n] * megabyte) for n, o in enumerate(objects(*sizes))]
    catalog.claim(listed, "d", "run-1")
    settings = PipelineSettings(catalog_url=catalog_url, batch_size=3, batch_megabytes=100, max_batches=3)
    written: dict[str, str] = {}

    batches = plan(settings, catalog, "run-1", written.__setitem__)

    # 60 + 50 MB is over 100: the second starts a batch; 150 MB alone is a batch of its own; then 3 documents
    assert [b.documents for b in batches] == [1, 1, 1]
    manifests = [Manifest.model_validate_json(written[b.manifest_uri]) for b in batches]
    assert [d.source.rsplit("/", 1)[1] for m in manifests for d in m.documents] == ["0.pdf", "1.pdf", "2.pdf"]
    assert sorted(c["source_uri"].rsplit("/", 1)[1] for c in catalog.claimed("run-1")) == ["0.pdf", "1.pdf", "2.pdf"]
    # the small ones were given back: the next run claims them, in one batch of 3 and one of 1
    assert len(catalog.claim(objects(3, 4, 5, 6), "d", "run-2")) == 4
    assert [b.documents for b in plan(settings, catalog, "run-2", written.__setitem__)] == [3, 1]


def test_a_run_that_claims_again_while_its_end_is_judged_keeps_its_new_claims(catalog_url):
    """The drop of an ended run's claims covers only what it claimed before Airflow was asked: a run cleared
    and started again in between (a backfill re-running it) keeps what it claimed since, in one transaction."""
    catalog = Catalog(catalog_url)
    catalog.migrate()
    catalog.claim(objects(1, 2), "document_ingest", "backfill__a")

    def ended_but_restarting(dag_id, run_id):
        catalog.claim(objects(3), dag_id, run_id)  # the re-run claims while we ask
        return False

    assert catalog.drop_claims_of_ended_runs("other", ended_but_restarting) == 2
    assert [c["source_uri"] for c in catalog.claimed("backfill__a")] == ["s3://docs/incoming/3.pdf"]

