"""Which objects under the source prefix are work for this run.

The catalog is the source of truth for what is left to do: an object is work
while the catalog has no final row for its URI and ETag (a changed object has
a new ETag; a row failed by the infrastructure, not by the document, is not
final), unless the run asks to reprocess. Which LastModified a run looks at:

* **scheduled**: everything before its interval's end, so whatever an earlier
  run left (capacity, failed batches, dead runs, skipped intervals, late
  objects with an old LastModified) is taken by the next one;
* **backfill**: exactly its interval (a backfill of a historical bucket);
* **manual**: everything, or the form's date range;
* **asset-triggered** (event mode): exactly the objects its S3 notifications
  name (``events``).

Oldest first, so a backlog drains in the order it arrived; a run takes up to
its capacity and leaves the rest to the next run.

**Reprocessing** takes what was last processed before a cutoff (the form's
``reprocess_before``; by default the run's own start), least recently
processed first: what an earlier reprocess run already redid goes to the back
of the queue, so reprocess runs one after another cover the whole prefix
however much larger it is than a run's capacity, and with the same cutoff they
end once nothing is left.

At scale: the listing is walked a page (1,000 keys) at a time, each page is
checked against the catalog with one query, and only the run's capacity of
candidates is kept (the oldest, in a bounded heap), so memory does not grow
with the bucket. Oldest first needs the whole listing; with
``discovery_order="key"`` the walk stops as soon as the capacity is filled
(listing order: right for buckets whose keys already sort by arrival, such as
``2024/05/01/…``). The listing comes from ``ListObjectsV2`` or, for buckets of
tens of millions of objects, from an S3 Inventory report (``inventory``).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from itertools import islice

from ocr_pipeline import inventory, layout

PAGE_SIZE = 1000  # keys per listing page, and per catalog query


@dataclass(frozen=True)
class SourceObject:
    source_uri: str
    etag: str
    size: int
    last_modified: datetime  # UTC

    @property
    def version(self) -> tuple[str, str]:
        return self.source_uri, self.etag

    @property
    def age_order(self) -> tuple[datetime, str]:
        return self.last_modified, self.source_uri


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
    """The LastModified window ``[start, end)`` a run looks at (None: unbounded), whether to reprocess, and
    the one object a run may be limited to (``document``: the Documents view's Reprocess)."""

    start: datetime | None = None
    end: datetime | None = None
    reprocess: bool = False
    document: str | None = None
    # reprocessing: a document processed at or after this is done already (None: everything is redone)
    reprocess_before: datetime | None = None

    @classmethod
    def for_run(
        cls, run_type, interval_start, interval_end, params: dict | None = None, started: datetime | None = None
    ) -> Selection:
        """The selection of a run of ``run_type`` (``started``: when the run was due, its ``run_after``)."""
        params = params or {}
        reprocess = bool(params.get("reprocess"))
        before = params.get("reprocess_before")
        before = _as_datetime(before, end=False) if before else started
        common = {"reprocess": reprocess, "document": params.get("document") or None,
                  "reprocess_before": before if reprocess else None}  # fmt: skip
        kind = run_kind(run_type)
        if kind == "scheduled" and interval_end is not None:
            return cls(None, interval_end, **common)
        if kind == "backfill" and interval_start is not None and interval_end is not None:
            return cls(interval_start, interval_end, **common)
        date_from, date_to = params.get("date_from"), params.get("date_to")
        return cls(
            _as_datetime(date_from, end=False) if date_from else None,
            _as_datetime(date_to, end=True) if date_to else None,
            **common,
        )

    def admits(self, obj: SourceObject) -> bool:
        modified = obj.last_modified
        return (
            (self.start is None or modified >= self.start)
            and (self.end is None or modified < self.end)
            and (self.document is None or obj.source_uri == self.document)
        )

    def describe(self) -> str:
        start = self.start.isoformat() if self.start else "the beginning"
        end = self.end.isoformat() if self.end else "now"
        only = f"only {self.document}, " if self.document else ""
        redo = ""
        if self.reprocess:
            before = self.reprocess_before.isoformat() if self.reprocess_before else "now"
            redo = f", reprocessing what was last processed before {before}, least recently processed first"
        return f"{only}last modified in [{start}, {end}){redo}"


def listing(hook, prefix_uri: str) -> Iterator[dict]:
    """``ListObjectsV2`` entries under an s3:// prefix, a page at a time (the amazon provider's S3Hook)."""
    bucket, prefix = layout.split(prefix_uri)
    return hook.iter_file_metadata(prefix, bucket_name=bucket, page_size=PAGE_SIZE)


def source_pages(
    settings, hook, document: str | None = None, notified: list[SourceObject] | None = None
) -> Iterator[list[SourceObject]]:
    """The source prefix's documents a page at a time: from the listing, or from an S3 Inventory report
    (one ``document``: a listing of its own key, which ``Selection.admits`` narrows to the exact key;
    ``notified``: an event run's objects, named by S3 notifications, see ``events``)."""
    if notified is not None:
        return iter([notified] if notified else [])
    if document:
        listed = listing(hook, document)
    elif settings.inventory_uri:
        listed = inventory.entries(hook, settings.inventory_uri, settings.source_uri)
    else:
        listed = listing(hook, settings.source_uri)
    bucket, _ = layout.split(document or settings.source_uri)
    return pages(listed, bucket, exclude=(settings.output_uri, settings.quarantine_uri))


def pages(
    entries: Iterable[dict], bucket: str, exclude: tuple[str, ...] = ()
) -> Iterator[list[SourceObject]]:
    """Listing entries (``Key``, ``ETag``, ``Size``, ``LastModified``) as pages of documents: no folder
    markers, nothing under ``exclude`` (the pipeline's own outputs)."""
    entries = iter(entries)
    while page := list(islice(entries, PAGE_SIZE)):
        yield [
            obj
            for obj in (from_listing(bucket, item) for item in page if not item["Key"].endswith("/"))
            if not obj.source_uri.startswith(exclude)
        ]


def from_listing(bucket: str, item: dict) -> SourceObject:
    modified = item["LastModified"]
    if isinstance(modified, str):
        modified = datetime.fromisoformat(modified)
    return SourceObject(
        f"s3://{bucket}/{item['Key']}", item["ETag"].strip('"'), int(item["Size"]), modified.astimezone(UTC)
    )


def catalog_check(catalog, run_id: str, selection: Selection) -> Callable[[list[SourceObject]], set[tuple[str, str]]]:
    """``new_work``'s ``taken`` for a run: one catalog query a page (``Catalog.unavailable``)."""
    return lambda page: catalog.unavailable(
        [o.version for o in page], run_id, selection.reprocess, selection.reprocess_before
    )


def last_processed(catalog, selection: Selection) -> Callable[[list[SourceObject]], dict] | None:
    """``new_work``'s ``last_processed`` for a reprocessing run (least recently processed first): a second catalog
    query a page, for reprocessing runs only; None otherwise."""
    if not selection.reprocess:
        return None
    return lambda page: catalog.last_processed([o.version for o in page])


@dataclass
class Walk:
    """What one walk over the listing saw."""

    listed: int = 0
    admitted: int = 0
    new: int = 0
    pages: int = 0


def new_work(
    listed_pages: Iterable[list[SourceObject]],
    selection: Selection,
    taken: Callable[[list[SourceObject]], set[tuple[str, str]]],
    capacity: int,
    order: str = "oldest",
    last_processed: Callable[[list[SourceObject]], dict] | None = None,
) -> tuple[list[SourceObject], Walk]:
    """Up to ``capacity`` objects this run should process, oldest first, and what the walk saw.

    ``taken(page)`` answers, in one catalog query per page, which of a page's
    objects are not work (finished, or held by another run). With ``order="oldest"``
    the whole listing is walked and the ``capacity`` oldest are kept (a bounded
    heap); with ``order="key"`` the walk stops once ``capacity`` are found.
    ``last_processed(page)`` (reprocessing) gives when each was last processed:
    the least recently processed come first.
    """
    walk = Walk()
    never = datetime.min.replace(tzinfo=UTC)

    def candidates() -> Iterator[tuple[tuple, SourceObject]]:
        for page in listed_pages:
            walk.pages += 1
            walk.listed += len(page)
            admitted = [o for o in page if selection.admits(o)]
            walk.admitted += len(admitted)
            if not admitted:
                continue
            excluded = taken(admitted)
            processed = last_processed(admitted) if last_processed else {}
            for obj in admitted:
                if obj.version not in excluded:
                    walk.new += 1
                    yield (processed.get(obj.version) or never, *obj.age_order), obj

    if order == "key":
        return [obj for _, obj in islice(candidates(), capacity)], walk
    return [obj for _, obj in heapq.nsmallest(capacity, candidates(), key=lambda c: c[0])], walk
