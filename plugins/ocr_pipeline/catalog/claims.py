"""The claims ledger: which objects each active run has taken on, so that two overlapping runs never take the
same one. A claim lasts as long as its run is active in Airflow (no lease to outlive or to renew)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from sqlalchemy import and_, delete, select, tuple_
from sqlalchemy.engine import Engine

from ocr_pipeline.catalog.schema import claims
from ocr_pipeline.catalog.sql import chunks, in_utc, insert_for, uris


class ClaimsLedger:
    engine: Engine

    def claim(self, objects: list, dag_id: str, run_id: str) -> list[tuple[str, str]]:
        """Claim ``objects`` (with ``source_uri``, ``etag``, ``size``, ``last_modified``) for a run; returns
        the keys it holds, in their order.

        Safe for concurrent runs: the primary key decides, ``INSERT … ON
        CONFLICT DO NOTHING`` on PostgreSQL waits for a concurrent claim of the
        same key to commit; a key another run got first is left to it.
        """
        held = []
        for chunk in chunks(list(objects)):
            now = datetime.now(UTC)
            rows = [
                {"source_uri": o.source_uri, "etag": o.etag, "size": o.size, "last_modified": o.last_modified,
                 "dag_id": dag_id, "run_id": run_id, "claimed_at": now}
                for o in chunk
            ]  # fmt: skip
            keys = [(o.source_uri, o.etag) for o in chunk]
            with self.engine.begin() as connection:
                connection.execute(insert_for(self.engine, claims).on_conflict_do_nothing(), rows)
                query = select(claims.c.source_uri, claims.c.etag).where(
                    claims.c.run_id == run_id, claims.c.source_uri.in_(uris(keys))
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
                for chunk in chunks(list(keys))
            )
