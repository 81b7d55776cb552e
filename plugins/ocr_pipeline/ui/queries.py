"""What the Documents view reads from the catalog: a filtered, paginated list, its totals, pages per day,
and one document. Filtering, counting and paging happen in the database, never in Python."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Date, cast, func, literal_column, select
from sqlalchemy.engine import Engine

from ocr_pipeline.catalog.schema import LIST_COLUMNS, SEARCH_CONFIG, document_texts, documents
from ocr_pipeline.catalog.sql import in_utc
from ocr_task.contract import DocumentStatus

MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class DocumentFilter:
    """The list's filters; each one left empty filters nothing but ``dag_ids``: the sources' DAGs whose
    documents may be shown."""

    dag_ids: tuple[str, ...]
    status: DocumentStatus | None = None
    engine: str | None = None
    prefix: str | None = None  # of the source URI
    processed_from: date | None = None
    processed_to: date | None = None  # inclusive
    search: str | None = None  # words of the recognised text

    def conditions(self, dialect: str) -> list:
        found = [documents.c.dag_id.in_(self.dag_ids)]
        if self.status:
            found.append(documents.c.status == self.status)
        if self.engine:
            found.append(documents.c.engine.contains(self.engine, autoescape=True))
        if self.prefix:
            found.append(documents.c.source_uri.startswith(self.prefix, autoescape=True))
        if self.processed_from:
            found.append(documents.c.processed_at >= datetime.combine(self.processed_from, time(), UTC))
        if self.processed_to:
            end = datetime.combine(self.processed_to + timedelta(days=1), time(), UTC)
            found.append(documents.c.processed_at < end)
        if self.search and self.search.strip():
            found.append(_matching_text(self.search.strip(), dialect))
        return found


def _matching_text(words: str, dialect: str):
    """Documents whose text matches: PostgreSQL full-text search (its GIN index), or LIKE on SQLite."""
    if dialect == "postgresql":  # the stored tsvector column the migration adds on PostgreSQL only
        vector = literal_column("document_texts.search")
        matches = vector.op("@@")(func.websearch_to_tsquery(SEARCH_CONFIG, words))
    else:
        matches = document_texts.c.text.icontains(words, autoescape=True)
    return (
        select(document_texts.c.etag)
        .where(document_texts.c.source_uri == documents.c.source_uri, document_texts.c.etag == documents.c.etag)
        .where(matches)
        .exists()
    )


def list_documents(engine: Engine, where: DocumentFilter, offset: int, limit: int) -> tuple[int, list[dict]]:
    """The documents that match, newest first: how many in all, and the ``limit`` from ``offset``."""
    conditions = where.conditions(engine.dialect.name)
    columns = [documents.c[name] for name in LIST_COLUMNS]
    query = (
        select(*columns)
        .where(*conditions)
        .order_by(documents.c.processed_at.desc(), documents.c.id.desc())
        .offset(max(offset, 0))
        .limit(min(max(limit, 1), MAX_PAGE_SIZE))
    )
    with engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(documents).where(*conditions)).scalar_one()
        rows = [in_utc(dict(row._mapping)) for row in connection.execute(query)]
    return total, rows


def totals(engine: Engine, where: DocumentFilter) -> dict:
    """Documents, pages and failed documents among those that match."""
    conditions = where.conditions(engine.dialect.name)
    failed = func.count().filter(documents.c.status == DocumentStatus.failed)
    query = select(func.count(), func.coalesce(func.sum(documents.c.pages), 0), failed)
    with engine.connect() as connection:
        count, pages, failures = connection.execute(query.select_from(documents).where(*conditions)).one()
    return {"documents": count, "pages": int(pages), "failed": int(failures)}


def pages_per_day(engine: Engine, where: DocumentFilter, days: int = 30) -> list[dict]:
    """Pages processed on each of the last ``days`` days (UTC) among the matching documents, oldest first."""
    first = datetime.now(UTC).date() - timedelta(days=days - 1)
    conditions = [*where.conditions(engine.dialect.name), documents.c.processed_at >= datetime.combine(first, time(), UTC)]
    processed = documents.c.processed_at
    day = cast(func.timezone("UTC", processed), Date) if engine.dialect.name == "postgresql" else func.date(processed)
    query = select(day.label("day"), func.coalesce(func.sum(documents.c.pages), 0)).where(*conditions).group_by(day)
    with engine.connect() as connection:
        counted = {str(row[0]): int(row[1]) for row in connection.execute(query)}
    return [
        {"day": (first + timedelta(days=n)).isoformat(), "pages": counted.get((first + timedelta(days=n)).isoformat(), 0)}
        for n in range(days)
    ]  # fmt: skip


def engines_in_use(engine: Engine) -> list[str]:
    """The engine names the catalog holds, for the filter's choices."""
    with engine.connect() as connection:
        values = connection.execute(select(documents.c.engine).where(documents.c.engine.is_not(None)).distinct())
        return sorted({name.strip() for (value,) in values for name in value.split(",")})


def one_document(engine: Engine, document_id: int) -> dict | None:
    with engine.connect() as connection:
        row = connection.execute(select(documents).where(documents.c.id == document_id)).first()
    return None if row is None else in_utc(dict(row._mapping))

