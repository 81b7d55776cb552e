"""A batch's catalog rows: from its report (outputs checked, figures, thin documents flagged), and as JSON Lines
(the day's catalog manifest for everyone)."""

from __future__ import annotations

import json
from collections.abc import Callable

from ocr_pipeline.catalog.schema import ROW_COLUMNS, DocumentRow
from ocr_task.contract import DocumentStatus, ManifestDocument, Report

MANIFEST_COLUMNS = tuple(c for c in ROW_COLUMNS if c != "retryable")


def batch_rows(
    batch_id: str,
    documents: list[ManifestDocument],
    report: Report,
    listing: dict[tuple[str, str], dict],
    exists: Callable[[str], bool],
    low_text_chars_per_page: int,
    try_number: int | None = None,
) -> list[DocumentRow]:
    """One catalog row for each document the batch was given; ``listing``: what the listing said of each
    (``size``, ``last_modified``: the run's claims), by (source, etag).

    A document succeeds only if the report says so and every output it
    names is really there (a document the infrastructure lost is failed as
    ``retryable``: the next run takes it again); one with fewer than ``low_text_chars_per_page``
    characters per page is flagged ``low_text`` (a blank scan, a photo, the
    wrong language) for a person to look at.
    """
    entries = {e.source: e for e in report.documents}
    rows = []
    for document in documents:
        listed = listing.get((document.source, document.etag), {})
        entry = entries.get(document.source)
        row = DocumentRow(
            source_uri=document.source, etag=document.etag, size=listed.get("size"),
            last_modified=listed.get("last_modified"), batch_id=batch_id, try_number=try_number,
            **(_reported(entry) if entry else _ABSENT),
        )  # fmt: skip
        if entry is not None and entry.status == DocumentStatus.succeeded:
            if missing := [uri for uri in entry.outputs.uris() if not exists(uri)]:
                row.status, row.retryable = DocumentStatus.failed, True
                row.error = f"output missing after OCR: {', '.join(missing)}"
            else:
                row.text_uri, row.markdown_uri = entry.outputs.text, entry.outputs.markdown
                row.json_uri, row.pdf_uri = entry.outputs.json_, entry.outputs.pdf
                row.low_text = entry.characters < low_text_chars_per_page * max(entry.pages, 1)
        rows.append(row)
    return rows


# a document the report does not name: the infrastructure's failure, not the document's (the next run takes it)
_ABSENT = {"status": DocumentStatus.failed, "error": "missing from the OCR report", "retryable": True}


def _reported(entry) -> dict:
    """What the report says of a document, as row values."""
    return {
        "status": entry.status, "error": entry.error,
        "retryable": entry.retryable,  # not the document's fault: not final, the next run tries it again
        "pages": entry.pages, "characters": entry.characters, "mean_confidence": entry.mean_confidence,
        "low_confidence": entry.low_confidence, "engine": ", ".join(entry.engines) or None,
    }  # fmt: skip


def json_lines(rows: list[DocumentRow], columns: tuple[str, ...] = MANIFEST_COLUMNS) -> str:
    def value(v):
        return v.isoformat() if hasattr(v, "isoformat") else v

    return "".join(
        json.dumps({c: value(getattr(row, c)) for c in columns}, ensure_ascii=False) + "\n" for row in rows
    )
