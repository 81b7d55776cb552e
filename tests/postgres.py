"""Databases of their own on the local PostgreSQL server, for the tests and the benchmarks."""

from __future__ import annotations

import fcntl
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

SERVER_URL = os.environ.get("OCR_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
# the machine's, as the server is: held shared by each test that uses the server, exclusively by the chaos test
# that stops it (the two sides of scripts/run_tests.sh run at once)
SERVER_LOCK = Path(tempfile.gettempdir()) / "ocr-ingest-tests-postgresql.lock"


@contextmanager
def server_kept_up(*, restarting: bool = False) -> Iterator[None]:
    """While inside, the machine's PostgreSQL is not stopped by another test (``restarting``: this one stops
    and starts it, once no other test uses it)."""
    lock = os.open(SERVER_LOCK, os.O_RDONLY | os.O_CREAT, 0o644)  # read-only: another user's file will do
    try:
        fcntl.flock(lock, fcntl.LOCK_EX if restarting else fcntl.LOCK_SH)
        yield
    finally:
        os.close(lock)  # and with it the lock


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
