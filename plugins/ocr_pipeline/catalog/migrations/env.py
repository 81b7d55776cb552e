"""Alembic environment of the catalog; run by ``Catalog.migrate()`` (or ``alembic`` with -x url=...)."""

from alembic import context
from sqlalchemy import create_engine

from ocr_pipeline.catalog.schema import VERSION_TABLE, metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        url = context.get_x_argument(as_dictionary=True).get("url")
        with create_engine(url).connect() as connection:
            _migrate(connection)
    else:
        _migrate(connection)


def _migrate(connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
    with context.begin_transaction():
        context.run_migrations()


run()
