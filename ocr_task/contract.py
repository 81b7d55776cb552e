"""The two JSON shapes the OCR step shares with whatever launches it.

* **Manifest** (input): which documents to process, optionally where to and how.
* **Report** (output, ``report.json`` beside the outputs): what happened to each (``DocumentStatus``).
* **JobStatus**: the state of a batch submitted to the OCR service as a job (``ocr_task.service``).

Both carry ``version``; a reader accepts its own major version. The Airflow
side imports only this module from ``ocr_task`` (it needs pydantic only), and
``ocr_task.naming`` (the standard library only) to plan output names by the
step's own rule, so the OCR image and the Airflow image can be upgraded
separately.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

# Exit codes of ``python -m ocr_task run``: what a launcher decides retries on.
EXIT_OK = 0  # every document succeeded
EXIT_BATCH_FAILED = 1  # the batch could not run (storage unreachable, engine cannot load): retry
EXIT_USAGE = 2  # the arguments or the manifest were refused: no retry can help
EXIT_SOME_FAILED = 3  # the batch ran, some documents failed (they are in the report)



class DocumentStatus(StrEnum):
    """A document's outcome, in the report and in the catalog."""

    succeeded = "succeeded"
    failed = "failed"  # ``retryable`` says whether for its own fault (final) or not (the next run tries again)


class JobStatus(StrEnum):
    """A batch submitted to the OCR service as a job."""

    queued = "queued"
    running = "running"
    succeeded = "succeeded"  # the batch ran: its report is written (documents in it may have failed)
    failed = "failed"  # the batch could not run (storage unreachable, engine failure): no report
    cancelled = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled)


# The documents the OCR step reads: extension -> kind (the kind is also what sniffing the first bytes finds)
EXTENSIONS = {
    ".pdf": "pdf",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".webp": "webp",
    ".bmp": "bmp",
}
SUPPORTED = "PDF, TIFF, PNG, JPEG, WEBP, BMP"

MANIFEST_VERSION = 1
REPORT_VERSION = 1
REPORT_NAME = "report.json"


class ManifestDocument(BaseModel):
    source: str = Field(description="Local path or s3://bucket/key")
    etag: str | None = Field(None, description="Process the object only if it still has this ETag")
    name: str | None = Field(None, description="Output name; derived from the key when absent")


class Manifest(BaseModel):
    version: int = MANIFEST_VERSION
    output: str | None = Field(None, description="Output folder or s3:// prefix (the CLI's --output wins)")
    report: str | None = Field(None, description="Where report.json goes; default <output>/report.json")
    engine: str | None = None
    lang: str | None = None
    documents: list[ManifestDocument]

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != MANIFEST_VERSION:
            raise ValueError(
                f"manifest version {value} is not supported (this reader takes {MANIFEST_VERSION})"
            )
        return value

    @field_validator("documents", mode="before")
    @classmethod
    def _plain_sources(cls, value):
        """Accept bare strings as documents: ``["s3://b/a.pdf", ...]``."""
        return [{"source": v} if isinstance(v, str) else v for v in value]


class Outputs(BaseModel):
    text: str
    markdown: str
    json_: str = Field(alias="json")
    pdf: str | None = None  # the searchable PDF (None: turned off, or it could not be made; the log says why)

    model_config = {"populate_by_name": True}

    def uris(self) -> tuple[str, ...]:
        """Every output written."""
        return (self.text, self.markdown, self.json_, *([self.pdf] if self.pdf else []))


class ReportEntry(BaseModel):
    source: str
    name: str
    etag: str | None = None
    status: DocumentStatus
    error: str | None = None
    retryable: bool = Field(
        False,
        description="Failed for a reason that is not the document's own (access to that key, throttling, a "
        "server error, the engine): not final, a later run tries it again",
    )
    cause: str | None = Field(None, description="A retryable failure's cause in a few words: S3 AccessDenied")
    pages: int = 0
    outputs: Outputs | None = None
    seconds: float
    engines: list[str] = Field(
        default_factory=list, description="Engine of each kind used, e.g. tesseract 5.5.4"
    )
    characters: int = 0
    mean_confidence: float | None = None
    low_confidence: bool = Field(
        False, description="Mean confidence under the step's OCR_MIN_CONFIDENCE: a person should look"
    )
    media_type: str | None = None


class ReportSummary(BaseModel):
    documents: int
    succeeded: int
    failed: int
    pages: int

    @classmethod
    def of(cls, entries: list[ReportEntry]) -> ReportSummary:
        return cls(
            documents=len(entries),
            succeeded=sum(e.status == DocumentStatus.succeeded for e in entries),
            failed=sum(e.status == DocumentStatus.failed for e in entries),
            pages=sum(e.pages for e in entries),
        )


class Report(BaseModel):
    version: int = REPORT_VERSION
    output: str
    engine: str
    started_at: str
    finished_at: str
    seconds: float
    summary: ReportSummary
    documents: list[ReportEntry]

    def to_json(self) -> str:
        return self.model_dump_json(indent=1, by_alias=True)
