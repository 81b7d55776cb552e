"""The results store: one row per object and ETag (what was processed, by what, with what result) and its
recognised text for search."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select, tuple_
from sqlalchemy.engine import Engine

from ocr_pipeline.catalog.schema import MAX_SEARCH_TEXT, DocumentRow, document_texts, documents
from ocr_pipeline.catalog.sql import as_utc, chunks, final_rows, insert_for, uris


class ResultsStore:
    engine: Engine

    def finished(self, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """The (source_uri, etag) pairs with a final row: succeeded, or failed by the document itself."""
        keys, found = list(keys), set()
        with self.engine.connect() as connection:
            for chunk in chunks(keys):
                found |= self._final(connection, chunk)
        return found

    @staticmethod
    def _final(connection, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        return {(row.source_uri, row.etag) for row in connection.execute(final_rows(keys))} & set(keys)

    def last_processed(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], datetime]:
        """When each of the keys that has a final row was processed (one query, as ``unavailable``)."""
        query = select(documents.c.source_uri, documents.c.etag, documents.c.processed_at).where(
            documents.c.source_uri.in_(uris(keys)), documents.c.retryable.is_(False)
        )
        wanted = set(keys)
        with self.engine.connect() as connection:
            return {
                (row.source_uri, row.etag): as_utc(row.processed_at)
                for row in connection.execute(query)
                if (row.source_uri, row.etag) in wanted
            }

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
            for chunk in chunks(values):
                statement = insert_for(self.engine, documents)
                updates = {c: statement.excluded[c] for c in chunk[0] if c not in ("source_uri", "etag")}
                statement = statement.on_conflict_do_update(
                    index_elements=["source_uri", "etag"], set_=updates
                )
                connection.execute(statement, chunk)
            for chunk in chunks(kept):
                statement = insert_for(self.engine, document_texts)
                statement = statement.on_conflict_do_update(
                    index_elements=["source_uri", "etag"], set_={"text": statement.excluded.text}
                )
                connection.execute(statement, chunk)
            for chunk in chunks(textless):
                key = tuple_(document_texts.c.source_uri, document_texts.c.etag)
                connection.execute(delete(document_texts).where(key.in_(chunk)))

    def rows(self, run_id: str | None = None) -> list[dict]:
        query = select(documents).order_by(documents.c.id)
        if run_id is not None:
            query = query.where(documents.c.run_id == run_id)
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]
