"""Which objects under the source prefix are work for this run.

The catalog is the source of truth for what is left to do: an object is work
while the catalog has no final row for its URI and ETag (a changed object has
a new ETag; a row failed by the infrastructure, not by the document, is not
final), unless the run asks to reprocess. Which LastModified a run looks at:

* **scheduled**: everything before its interval's end, so whatever an earlier
  run left (capacity, failed batches, dead runs, skipped intervals, late
  objects with an old LastModified) is taken by the next one;
* **backfill**: exactly its interval (a backfill of a historical bucket);
* **manual** (and asset-triggered): everything, or the form's date range.

Oldest first, so a backlog drains in the order it arrived; a run takes up to
its capacity and leaves the rest to the next run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum

from ocr_pipeline.catalog import Catalog


@dataclass(frozen=True)
class SourceObject:
    source_uri: str
    bucket: str
    key: str
    etag: str
    size: int
    last_modified: str  # ISO 8601, UTC

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def version(self) -> tuple[str, str]:
        return self.source_uri, self.etag


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def run_kind(run_type) -> str:
    """``scheduled``, ``backfill``, ``manual``, …: the Task SDK passes a ``(str, Enum)`` whose ``str()`` is
    ``"DagRunType.SCHEDULED"`` on Python 3.11, so compare its value, never its ``str()``."""
    return run_type.value if isinstance(run_type, Enum) else str(run_type)


def _as_datetime(value, *, end: bool) -> datetime:
    """A form's date or date-time; a bare date as an end means the whole of that day."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    start = datetime.combine(value, time(), tzinfo=UTC)
    return start + timedelta(days=1) if end else start


@dataclass(frozen=True)
class Selection:
    """The LastModified window ``[start, end)`` a run looks at (None: unbounded), and whether to reprocess."""

    start: datetime | None = None
    end: datetime | None = None
    reprocess: bool = False

    @classmethod
    def for_run(cls, run_type, interval_start, interval_end, params: dict | None = None) -> Selection:
        params = params or {}
        reprocess = bool(params.get("reprocess"))
        kind = run_kind(run_type)
        if kind == "scheduled" and interval_end is not None:
            return cls(None, interval_end, reprocess)
        if kind == "backfill" and interval_start is not None and interval_end is not None:
            return cls(interval_start, interval_end, reprocess)
        date_from, date_to = params.get("date_from"), params.get("date_to")
        return cls(
            _as_datetime(date_from, end=False) if date_from else None,
            _as_datetime(date_to, end=True) if date_to else None,
            reprocess,
        )

    def admits(self, obj: SourceObject) -> bool:
        modified = datetime.fromisoformat(obj.last_modified)
        return (self.start is None or modified >= self.start) and (self.end is None or modified < self.end)

    def describe(self) -> str:
        start = self.start.isoformat() if self.start else "the beginning"
        end = self.end.isoformat() if self.end else "now"
        return f"last modified in [{start}, {end})" + (", reprocessing" if self.reprocess else "")


def list_objects(hook, prefix_uri: str, exclude: tuple[str, ...] = ()) -> Iterator[SourceObject]:
    """Objects under an s3:// prefix (through the amazon provider's S3Hook), except those under ``exclude``."""
    bucket, prefix = split_uri(prefix_uri)
    yield from documents_in(bucket, hook.iter_file_metadata(prefix, bucket_name=bucket), exclude)


def documents_in(bucket: str, listing, exclude: tuple[str, ...] = ()) -> Iterator[SourceObject]:
    """The documents of a listing: no folder markers, nothing under ``exclude`` (the pipeline's own outputs)."""
    for item in listing:
        obj = from_listing(bucket, item)
        if not obj.key.endswith("/") and not obj.source_uri.startswith(exclude):
            yield obj


def from_listing(bucket: str, item: dict) -> SourceObject:
    """A ListObjectsV2 entry (``Key``, ``ETag``, ``Size``, ``LastModified``) as a source object."""
    modified = item["LastModified"]
    if isinstance(modified, str):
        modified = datetime.fromisoformat(modified)
    return SourceObject(
        f"s3://{bucket}/{item['Key']}", bucket, item["Key"], item["ETag"].strip('"'), item["Size"],
        modified.astimezone(UTC).isoformat(),
    )  # fmt: skip


def new_work(objects: Iterable[SourceObject], catalog: Catalog, selection: Selection) -> list[SourceObject]:
    """The objects this run should process, oldest first."""
    admitted = [o for o in objects if selection.admits(o)]
    if not selection.reprocess:
        done = catalog.finished(o.version for o in admitted)
        admitted = [o for o in admitted if o.version not in done]
    return sorted(admitted, key=lambda o: (o.last_modified, o.key))
