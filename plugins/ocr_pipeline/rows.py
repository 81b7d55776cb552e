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
        row = DocumentRow(
            source_uri=document.source, etag=document.etag, status=DocumentStatus.failed, size=listed.get("size"),
            last_modified=listed.get("last_modified"), batch_id=batch_id, try_number=try_number,
        )
        entry = entries.get(document.source)
        if entry is None:
            row.error, row.retryable = "missing from the OCR report", True
            rows.append(row)
            continue
        _update(
            row,
            status=entry.status,
            error=entry.error,
            retryable=entry.retryable,  # not the document's fault: not final, the next run tries it again
            pages=entry.pages,
            characters=entry.characters,
            mean_confidence=entry.mean_confidence,
            low_confidence=entry.low_confidence,
            engine=", ".join(entry.engines) or None,
        )
        if entry.status == DocumentStatus.succeeded:
            outputs = entry.outputs
            missing = [uri for uri in outputs.uris() if not exists(uri)]
            if missing:
                _update(
                    row,
                    status=DocumentStatus.failed, error=f"output missing after OCR: {', '.join(missing)}", retryable=True
                )
            else:
                _update(
                    row,
                    text_uri=outputs.text,
                    markdown_uri=outputs.markdown,
                    json_uri=outputs.json_,
                    pdf_uri=outputs.pdf,
                    low_text=entry.characters < low_text_chars_per_page * max(entry.pages, 1),
                )
        rows.append(row)
    return rows


def _update(row: DocumentRow, **values) -> None:
    for name, value in values.items():
        setattr(row, name, value)


def json_lines(rows: list[DocumentRow], columns: tuple[str, ...] = MANIFEST_COLUMNS) -> str:
    def value(v):
        return v.isoformat() if hasattr(v, "isoformat") else v

    return "".join(
        json.dumps({c: value(getattr(row, c)) for c in columns}, ensure_ascii=False) + "\n" for row in rows
    )
