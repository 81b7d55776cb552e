"""What the catalog's queries share: SQLAlchemy engines (one per URL), dialect-aware inserts, chunking and UTC."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine

from ocr_pipeline.catalog.schema import documents

CHUNK = 1000  # keys per IN (...) query: a listing page


def chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def insert_for(engine: Engine, table):
    """INSERT with the dialect's ON CONFLICT support."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif engine.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the project supports these two
        raise ValueError(f"catalog database {engine.dialect.name!r} is not supported (SQLite or PostgreSQL)")
    return insert(table)


def uris(keys: list[tuple[str, str]]) -> list[str]:
    """The URIs of (source_uri, etag) keys: what the unique indexes are looked up by (versions sorted out after)."""
    return sorted({uri for uri, _ in keys})


def final_rows(keys: list[tuple[str, str]]):
    """The final rows (succeeded, or failed by the document itself) of the keys' URIs."""
    return select(documents.c.source_uri, documents.c.etag).where(
        documents.c.source_uri.in_(uris(keys)), documents.c.retryable.is_(False)
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
def engine_for(url: str) -> Engine:
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record):
            # WAL lets readers and the one writer proceed together; wait for a lock rather than fail.
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA busy_timeout=30000")

    return engine


