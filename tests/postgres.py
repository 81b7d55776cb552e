"""Databases of their own on the local PostgreSQL server, for the tests and the benchmarks."""

from __future__ import annotations

import os
import uuid

from sqlalchemy import create_engine, text

SERVER_URL = os.environ.get("OCR_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def _run(statement: str) -> None:
    engine = create_engine(SERVER_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(statement))
    engine.dispose()


def new_database(prefix: str = "ocr_test") -> str:
    """A new, empty database; its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    _run(f'CREATE DATABASE "{name}"')
    return SERVER_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_database(url: str) -> None:
    _run(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
