"""A batch's catalog rows: from its report (outputs checked, figures, thin documents flagged), and as JSON Lines
(the day's catalog manifest for everyone)."""

from __future__ import annotations

import json
from collections.abc import Callable

from ocr_pipeline.catalog.schema import documents
from ocr_pipeline.planning import PlannedDocument
from ocr_task.contract import DocumentStatus, Report

ROW_COLUMNS = tuple(c.name for c in documents.columns if c.name != "id")
MANIFEST_COLUMNS = tuple(c for c in ROW_COLUMNS if c != "retryable")


def batch_rows(
    batch_id: str,
    documents: list[PlannedDocument],
    report: Report,
    exists: Callable[[str], bool],
    low_text_chars_per_page: int,
    try_number: int | None = None,
) -> list[dict]:
    """One catalog row for each document the batch was given.

    A document succeeds only if the report says so and every output it
    names is really there (a document the infrastructure lost is failed as
    ``retryable``: the next run takes it again); one with fewer than ``low_text_chars_per_page``
    characters per page is flagged ``low_text`` (a blank scan, a photo, the
    wrong language) for a person to look at.
    """
    entries = {e.source: e for e in report.documents}
    rows = []
    for document in documents:
        row = {
            "source_uri": document.source, "etag": document.etag, "size": document.size,
            "last_modified": document.last_modified, "batch_id": batch_id, "try_number": try_number,
            "retryable": False,
        }  # fmt: skip
        entry = entries.get(document.source)
        if entry is None:
            rows.append(
                {**row, "status": DocumentStatus.failed, "error": "missing from the OCR report", "retryable": True}
            )
            continue
        row.update(
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
            written = (outputs.text, outputs.markdown, outputs.json_, *([outputs.pdf] if outputs.pdf else []))
            missing = [uri for uri in written if not exists(uri)]
            if missing:
                row.update(
                    status=DocumentStatus.failed, error=f"output missing after OCR: {', '.join(missing)}", retryable=True
                )
            else:
                row.update(
                    text_uri=outputs.text,
                    markdown_uri=outputs.markdown,
                    json_uri=outputs.json_,
                    pdf_uri=outputs.pdf,
                    low_text=entry.characters < low_text_chars_per_page * max(entry.pages, 1),
                )
        rows.append(row)
    return rows


def json_lines(rows: list[dict], columns: tuple[str, ...] = MANIFEST_COLUMNS) -> str:
    def value(v):
        return v.isoformat() if hasattr(v, "isoformat") else v

    return "".join(
        json.dumps({c: value(row.get(c)) for c in columns}, ensure_ascii=False) + "\n" for row in rows
    )
