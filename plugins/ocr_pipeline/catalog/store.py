"""The catalog: which objects were processed (``results``) and which are claimed (``claims``), through
SQLAlchemy on SQLite or PostgreSQL. :class:`Catalog` is the one object the tasks use; it migrates the schema
and answers the one question that reads both tables (``unavailable``).

Adding a catalog column touches three files: the column on ``schema.DocumentRow`` (its ``info`` says whether
the Documents view lists it or links to it as an output), a migration in ``migrations/versions``
(tests/plugins/test_catalog.py fails until the two agree), and the place its value comes from (``rows.batch_rows``
for what the OCR report says, ``tasks.catalog`` for what the run knows). The row's dataclass, the inserts, the
day's JSON Lines manifest and the view's list and outputs take it from the schema.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select, text, union_all
from sqlalchemy.exc import DBAPIError

from ocr_pipeline.catalog.claims import ClaimsLedger
from ocr_pipeline.catalog.results import ResultsStore
from ocr_pipeline.catalog.schema import VERSION_TABLE, claims, documents
from ocr_pipeline.catalog.sql import engine_for, final_rows, uris

__all__ = ["Catalog"]
MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration: each file in versions/ is named after its revision ("0006_searchable_pdf.py"),
# tests/plugins/test_catalog.py checks that this is alembic's own head.
HEAD = max(path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))


def alembic_config():
    """Alembic's configuration for the catalog's migrations (its ``connection`` attribute is the caller's)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


class Catalog(ClaimsLedger, ResultsStore):
    def __init__(self, url: str):
        self.engine = engine_for(url)

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest migration (safe to call on every run). A catalog already
        at the newest costs one SELECT: importing alembic and loading its scripts cost each ``discover`` task
        0.15-0.2 s (measured), on every run."""
        if self.version() == HEAD:
            return
        from alembic import command

        config = alembic_config()
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":  # one migrator at a time across runs
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7412001)")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def version(self) -> str | None:
        """The schema's migration; None where there is none yet, or where the catalog cannot say (``migrate``
        then takes the long way, which creates the schema or reports the failure)."""
        try:
            with self.engine.connect() as connection:
                found = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
        except DBAPIError:
            return None
        return found[0] if len(found) == 1 else None

    def unavailable(
        self, keys: list[tuple[str, str]], run_id: str, reprocess: bool = False, processed_since: datetime | None = None
    ) -> set[tuple[str, str]]:
        """Of one listing page's keys, those that are not work for ``run_id``: finished (reprocessing: finished
        at or after ``processed_since``) or claimed by another run. One query (a lookup of the page's URIs in
        each table's unique index), however many keys the page holds."""
        held = select(claims.c.source_uri, claims.c.etag).where(
            claims.c.source_uri.in_(uris(keys)), claims.c.run_id != run_id
        )
        if not reprocess:
            held = union_all(final_rows(keys), held)
        elif processed_since is not None:
            held = union_all(final_rows(keys).where(documents.c.processed_at >= processed_since), held)
        with self.engine.connect() as connection:
            return {(row.source_uri, row.etag) for row in connection.execute(held)} & set(keys)
