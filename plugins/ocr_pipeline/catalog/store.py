"""The catalog: which objects were processed (and claimed), through SQLAlchemy on SQLite or PostgreSQL."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import and_, create_engine, delete, event, select, tuple_, union_all
from sqlalchemy.engine import Engine

from ocr_pipeline.catalog.schema import MAX_SEARCH_TEXT, DocumentRow, claims, document_texts, documents

MIGRATIONS = Path(__file__).parent / "migrations"
_CHUNK = 1000  # keys per IN (...) query: a listing page


def _chunks(items: list, size: int = _CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _insert(engine: Engine, table):
    """INSERT with the dialect's ON CONFLICT support."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif engine.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the project supports these two
        raise ValueError(f"catalog database {engine.dialect.name!r} is not supported (SQLite or PostgreSQL)")
    return insert(table)


def _uris(keys: list[tuple[str, str]]) -> list[str]:
    """The URIs of (source_uri, etag) keys: what the unique indexes are looked up by (versions sorted out after)."""
    return sorted({uri for uri, _ in keys})


def _final_rows(keys: list[tuple[str, str]]):
    """The final rows (succeeded, or failed by the document itself) of the keys' URIs."""
    return select(documents.c.source_uri, documents.c.etag).where(
        documents.c.source_uri.in_(_uris(keys)), documents.c.retryable.is_(False)
    )


def as_utc(value):
    """A catalog time as UTC: SQLite keeps no time zone, and the catalog's times are UTC."""
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) and value.tzinfo is None else value


def in_utc(row: dict) -> dict:
    """A catalog row with its times as UTC (``as_utc``)."""
    for column, value in row.items():
        row[column] = as_utc(value)
    return row


@functools.cache
def _engine(url: str) -> Engine:
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record):
            # WAL lets readers and the one writer proceed together; wait for a lock rather than fail.
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA busy_timeout=30000")

    return engine


class Catalog:
    def __init__(self, url: str):
        self.engine = _engine(url)

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest migration (safe to call on every run)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":  # one migrator at a time across runs
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7412001)")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def finished(self, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """The (source_uri, etag) pairs with a final row: succeeded, or failed by the document itself."""
        keys, found = list(keys), set()
        with self.engine.connect() as connection:
            for chunk in _chunks(keys):
                found |= self._final(connection, chunk)
        return found

    @staticmethod
    def _final(connection, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        return {(row.source_uri, row.etag) for row in connection.execute(_final_rows(keys))} & set(keys)

    def unavailable(
        self, keys: list[tuple[str, str]], run_id: str, reprocess: bool = False, processed_since: datetime | None = None
    ) -> set[tuple[str, str]]:
        """Of one listing page's keys, those that are not work for ``run_id``: finished (reprocessing: finished
        at or after ``processed_since``) or claimed by another run. One query (a lookup of the page's URIs in
        each table's unique index), however many keys the page holds."""
        held = select(claims.c.source_uri, claims.c.etag).where(
            claims.c.source_uri.in_(_uris(keys)), claims.c.run_id != run_id
        )
        if not reprocess:
            held = union_all(_final_rows(keys), held)
        elif processed_since is not None:
            held = union_all(_final_rows(keys).where(documents.c.processed_at >= processed_since), held)
        with self.engine.connect() as connection:
            return {(row.source_uri, row.etag) for row in connection.execute(held)} & set(keys)

    def last_processed(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], datetime]:
        """When each of the keys that has a final row was processed (one query, as ``unavailable``)."""
        query = select(documents.c.source_uri, documents.c.etag, documents.c.processed_at).where(
            documents.c.source_uri.in_(_uris(keys)), documents.c.retryable.is_(False)
        )
        wanted = set(keys)
        with self.engine.connect() as connection:
            return {
                (row.source_uri, row.etag): as_utc(row.processed_at)
                for row in connection.execute(query)
                if (row.source_uri, row.etag) in wanted
            }

    def claim(self, objects: list, dag_id: str, run_id: str) -> list[tuple[str, str]]:
        """Claim ``objects`` (with ``source_uri``, ``etag``, ``size``, ``last_modified``) for a run; returns
        the keys it holds, in their order.

        Safe for concurrent runs: the primary key decides, ``INSERT … ON
        CONFLICT DO NOTHING`` on PostgreSQL waits for a concurrent claim of the
        same key to commit; a key another run got first is left to it.
        """
        held = []
        for chunk in _chunks(list(objects)):
            now = datetime.now(UTC)
            rows = [
                {"source_uri": o.source_uri, "etag": o.etag, "size": o.size, "last_modified": o.last_modified,
                 "dag_id": dag_id, "run_id": run_id, "claimed_at": now}
                for o in chunk
            ]  # fmt: skip
            keys = [(o.source_uri, o.etag) for o in chunk]
            with self.engine.begin() as connection:
                connection.execute(_insert(self.engine, claims).on_conflict_do_nothing(), rows)
                query = select(claims.c.source_uri, claims.c.etag).where(
                    claims.c.run_id == run_id, claims.c.source_uri.in_(_uris(keys))
                )
                mine = {(row.source_uri, row.etag) for row in connection.execute(query)}
            held += [k for k in keys if k in mine]
        return held

    def claimed(self, run_id: str) -> list[dict]:
        """A run's claims, oldest object first: what its plan splits into batches."""
        query = (
            select(claims.c.source_uri, claims.c.etag, claims.c.size, claims.c.last_modified)
            .where(claims.c.run_id == run_id)
            .order_by(claims.c.last_modified, claims.c.source_uri)
        )
        with self.engine.connect() as connection:
            return [in_utc(dict(row._mapping)) for row in connection.execute(query)]

    def drop_claims_of_ended_runs(self, run_id: str, is_active: Callable[[str, str], bool]) -> int:
        """Claims of runs that are no longer active (they failed, were marked failed, or a worker died, before
        giving them back): free for others. Returns how many were dropped.

        A claim lasts as long as its run, with no lease to outlive or renew. Only claims made before the
        runs were asked about are dropped, all in one transaction: a run that was cleared and started again
        in between (a backfill re-running it) keeps what it claimed since.
        """
        with self.engine.connect() as connection:
            others = connection.execute(
                select(claims.c.dag_id, claims.c.run_id).where(claims.c.run_id != run_id).distinct()
            ).all()
        asked = datetime.now(UTC)
        ended = [other for other in others if not is_active(other.dag_id, other.run_id)]
        dropped = 0
        with self.engine.begin() as connection:
            for other in ended:
                dropped += connection.execute(
                    delete(claims).where(
                        claims.c.dag_id == other.dag_id, claims.c.run_id == other.run_id, claims.c.claimed_at < asked
                    )
                ).rowcount
        return dropped

    def release(
        self, run_id: str, keys: Iterable[tuple[str, str]] | None = None, dag_id: str | None = None
    ) -> int:
        """Give back a run's claims (all of them, or those ``keys``; of ``dag_id``'s run only, when given);
        returns how many."""
        mine = claims.c.run_id == run_id
        if dag_id is not None:
            mine = and_(mine, claims.c.dag_id == dag_id)
        with self.engine.begin() as connection:
            if keys is None:
                return connection.execute(delete(claims).where(mine)).rowcount
            key = tuple_(claims.c.source_uri, claims.c.etag)
            return sum(
                connection.execute(delete(claims).where(and_(mine, key.in_(chunk)))).rowcount
                for chunk in _chunks(list(keys))
            )

    def upsert(self, rows: list[DocumentRow], texts: dict[tuple[str, str], str] | None = None) -> None:
        """One row per (source_uri, etag): inserted, or replaced by the newer result (every row binds every
        column). ``texts``: the recognised text of rows (by key), for search, kept in ``document_texts``; a row
        without one drops its key's text."""
        if not rows:
            return
        texts = texts or {}
        kept = [
            {"source_uri": uri, "etag": etag, "text": text[:MAX_SEARCH_TEXT]} for (uri, etag), text in texts.items()
        ]
        textless = [(row.source_uri, row.etag) for row in rows if (row.source_uri, row.etag) not in texts]
        values = [row.values() for row in rows]
        with self.engine.begin() as connection:
            for chunk in _chunks(values):
                statement = _insert(self.engine, documents)
                updates = {c: statement.excluded[c] for c in chunk[0] if c not in ("source_uri", "etag")}
                statement = statement.on_conflict_do_update(
                    index_elements=["source_uri", "etag"], set_=updates
                )
                connection.execute(statement, chunk)
            for chunk in _chunks(kept):
                statement = _insert(self.engine, document_texts)
                statement = statement.on_conflict_do_update(
                    index_elements=["source_uri", "etag"], set_={"text": statement.excluded.text}
                )
                connection.execute(statement, chunk)
            for chunk in _chunks(textless):
                key = tuple_(document_texts.c.source_uri, document_texts.c.etag)
                connection.execute(delete(document_texts).where(key.in_(chunk)))

    def rows(self, run_id: str | None = None) -> list[dict]:
        query = select(documents).order_by(documents.c.id)
        if run_id is not None:
            query = query.where(documents.c.run_id == run_id)
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]
