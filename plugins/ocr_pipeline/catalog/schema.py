"""The catalog's tables. Changes go through a migration in ``migrations/versions``."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData()

# One row per source object and ETag: what was processed, by what, from where, with what result.
documents = Table(
    "documents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source_uri", Text, nullable=False),
    Column("etag", String(128), nullable=False),
    Column("size", BigInteger),
    Column("last_modified", DateTime(timezone=True)),
    Column("status", String(16), nullable=False),  # succeeded | failed
    Column("error", Text),
    # failed by the infrastructure (outputs lost, missing from the report), not by the document: work again
    Column("retryable", Boolean, nullable=False, server_default=false()),
    Column("pages", Integer),
    Column("characters", Integer),
    Column("mean_confidence", Float),
    Column("low_confidence", Boolean),  # mean confidence under the OCR step's threshold: a person should look
    Column("low_text", Boolean),
    Column("engine", String(256)),
    Column("text_uri", Text),
    Column("markdown_uri", Text),
    Column("json_uri", Text),
    Column("pdf_uri", Text),  # the searchable PDF; None when turned off (OCR_SEARCHABLE_PDF) or not made
    Column("quarantine_uri", Text),
    Column("dag_id", String(250)),
    Column("run_id", String(250), index=True),
    Column("try_number", Integer),
    Column("batch_id", String(64)),
    Column("processed_at", DateTime(timezone=True), nullable=False, index=True),
    UniqueConstraint("source_uri", "etag", name="uq_documents_source_etag"),
    Index("ix_documents_status", "status", "processed_at"),
)

# The recognised text of each succeeded document, for the Documents view's full-text search. On PostgreSQL
# the migration adds ``search``, its ``to_tsvector('simple', text)`` stored, with a GIN index; SQLite
# searches the text with LIKE. Kept apart from ``documents`` so that listing the catalog never reads it.
document_texts = Table(
    "document_texts",
    metadata,
    Column("source_uri", Text, nullable=False),
    Column("etag", String(128), nullable=False),
    Column("text", Text, nullable=False),
    PrimaryKeyConstraint("source_uri", "etag", name="pk_document_texts"),
)
SEARCH_CONFIG = "simple"  # no stemming: Russian and English alike
MAX_SEARCH_TEXT = 400_000  # characters kept for search per document (PostgreSQL's tsvector holds at most 1 MB)

# Objects a run has taken on and not yet catalogued: two overlapping runs never take the same one.
# A claim lasts as long as its run is active in Airflow (no lease to outlive or to renew).
claims = Table(
    "claims",
    metadata,
    Column("source_uri", Text, nullable=False),
    Column("etag", String(128), nullable=False),
    Column("dag_id", String(250), nullable=False, server_default=""),
    Column("run_id", String(250), nullable=False, index=True),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
    Column("size", BigInteger),  # as listed: planning reads its batches from here
    Column("last_modified", DateTime(timezone=True)),
    PrimaryKeyConstraint("source_uri", "etag", name="pk_claims"),
)
