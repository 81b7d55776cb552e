"""The catalog's tables. Changes go through a migration in ``migrations/versions``.

A catalog row is one typed class, :class:`DocumentRow`; the ``documents`` table is made from it (SQLAlchemy's
dataclass mapping), so the columns are written once. A column's ``info`` says where else it shows:
``listed`` (the Documents view's list) and ``output`` (a file the view links to: its kind and media type).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, MappedAsDataclass, mapped_column

LISTED = {"listed": True}


def _output(kind: str, media_type: str) -> dict:
    return {"output": (kind, media_type)}


class Base(MappedAsDataclass, DeclarativeBase):
    pass


metadata = Base.metadata
VERSION_TABLE = "ocr_catalog_version"  # the migrations' table; not "alembic_version": the catalog may share Airflow's database


class DocumentRow(Base):
    """One row per source object and ETag: what was processed, by what, from where, with what result."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("source_uri", "etag", name="uq_documents_source_etag"),
        Index("ix_documents_status", "status", "processed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True, init=False, info=LISTED)
    source_uri: Mapped[str] = mapped_column(Text, info=LISTED)
    etag: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), info=LISTED)  # ocr_task.contract.DocumentStatus
    batch_id: Mapped[str | None] = mapped_column(String(64), default=None)
    size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    last_modified: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None, info=LISTED)
    # failed by the infrastructure (outputs lost, missing from the report), not by the document: work again
    retryable: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), info=LISTED)
    pages: Mapped[int | None] = mapped_column(Integer, default=None, info=LISTED)
    characters: Mapped[int | None] = mapped_column(Integer, default=None, info=LISTED)
    mean_confidence: Mapped[float | None] = mapped_column(Float, default=None, info=LISTED)
    # mean confidence under the OCR step's threshold: a person should look
    low_confidence: Mapped[bool | None] = mapped_column(Boolean, default=None, info=LISTED)
    low_text: Mapped[bool | None] = mapped_column(Boolean, default=None, info=LISTED)
    engine: Mapped[str | None] = mapped_column(String(256), default=None, info=LISTED)
    text_uri: Mapped[str | None] = mapped_column(Text, default=None, info=_output("text", "text/plain; charset=utf-8"))
    markdown_uri: Mapped[str | None] = mapped_column(
        Text, default=None, info=_output("markdown", "text/markdown; charset=utf-8")
    )
    json_uri: Mapped[str | None] = mapped_column(Text, default=None, info=_output("json", "application/json"))
    # the searchable PDF; None when turned off (OCR_SEARCHABLE_PDF) or not made
    pdf_uri: Mapped[str | None] = mapped_column(Text, default=None, info=_output("pdf", "application/pdf"))
    quarantine_uri: Mapped[str | None] = mapped_column(
        Text, default=None, info=_output("quarantine", "application/octet-stream")
    )
    dag_id: Mapped[str | None] = mapped_column(String(250), default=None, info=LISTED)
    run_id: Mapped[str | None] = mapped_column(String(250), default=None, index=True, info=LISTED)
    try_number: Mapped[int | None] = mapped_column(Integer, default=None)
    processed_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), default=None, nullable=False, index=True, info=LISTED
    )

    def values(self) -> dict:
        """The row's column values (``id`` left to the database): what an insert binds."""
        return {c.key: getattr(self, c.key) for c in documents.columns if c.key != "id"}


documents: Table = DocumentRow.__table__
ROW_COLUMNS = tuple(c.key for c in documents.columns if c.key != "id")
LIST_COLUMNS = tuple(c.key for c in documents.columns if c.info.get("listed"))
OUTPUT_COLUMNS = {c.info["output"][0]: (c.key, c.info["output"][1]) for c in documents.columns if "output" in c.info}

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
