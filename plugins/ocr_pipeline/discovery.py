"""Which objects under the source prefix are new work for this run.

An object is new work when the catalog has no row for its URI and ETag (a
changed object has a new ETag, so it is new work again), unless the run asks
to reprocess. Scheduled and backfill runs take the objects whose
LastModified falls in their data interval, so a backfill of a past day takes
exactly that day's objects; a manual run takes every object not yet
catalogued, or those in the date range its form gives.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta

from ocr_pipeline.catalog import Catalog

INTERVAL_RUN_TYPES = {"scheduled", "backfill"}


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


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _as_datetime(value, *, end: bool) -> datetime:
    """A form's date or date-time; a bare date as an end means the whole of that day."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    start = datetime.combine(value, time(), tzinfo=UTC)
    return start + timedelta(days=1) if end else start


def window(
    run_type: str, interval_start, interval_end, date_from=None, date_to=None
) -> tuple[datetime | None, datetime | None] | None:
    """The LastModified window a run takes, or None for every object."""
    if date_from or date_to:
        return (
            _as_datetime(date_from, end=False) if date_from else None,
            _as_datetime(date_to, end=True) if date_to else None,
        )
    if run_type in INTERVAL_RUN_TYPES and interval_start and interval_end:
        return interval_start, interval_end
    return None


def list_objects(hook, prefix_uri: str, exclude: tuple[str, ...] = ()) -> Iterator[SourceObject]:
    """Objects under an s3:// prefix (through the amazon provider's S3Hook), except those under ``exclude``."""
    bucket, prefix = split_uri(prefix_uri)
    for item in hook.iter_file_metadata(prefix, bucket_name=bucket):
        key = item["Key"]
        uri = f"s3://{bucket}/{key}"
        if key.endswith("/") or any(uri.startswith(e) for e in exclude):
            continue
        modified = item["LastModified"]
        yield SourceObject(uri, bucket, key, item["ETag"].strip('"'), item["Size"], modified.isoformat())


def new_work(
    objects: list[SourceObject], catalog: Catalog, span: tuple | None, reprocess: bool
) -> list[SourceObject]:
    if span is not None:
        start, end = span
        objects = [
            o
            for o in objects
            if (start is None or datetime.fromisoformat(o.last_modified) >= start)
            and (end is None or datetime.fromisoformat(o.last_modified) < end)
        ]
    if reprocess:
        return objects
    known = catalog.known((o.source_uri, o.etag) for o in objects)
    return [o for o in objects if (o.source_uri, o.etag) not in known]
