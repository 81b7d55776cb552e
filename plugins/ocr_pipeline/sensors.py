"""The DAG's first task: wait until the source prefix holds work for this run."""

from __future__ import annotations

import logging

from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException

from ocr_pipeline import discovery
from ocr_pipeline.catalog import Catalog
from ocr_pipeline.settings import resolve

log = logging.getLogger(__name__)

LISTING_KEYS = ["Key", "ETag", "Size", "LastModified"]  # all in the listing itself: no HEAD per object


class NewDocumentsSensor(S3KeySensor):
    """The amazon provider's S3KeySensor over the source prefix, satisfied only by *new* work: an object
    that this run's selection admits and the catalog has not finished (see ``discovery``).

    Only running out of time skips the run (nothing arrived); a failure to
    reach S3 or the catalog fails it, like any other error. Runs in
    reschedule mode: the worker slot is free between pokes. (Deferred, the
    provider's sensor would re-arm its full timeout after every listing that
    held only old objects, and never time out.)
    """

    def __init__(self, *, source_uri: str, **kwargs):
        kwargs.setdefault("mode", "reschedule")
        super().__init__(
            bucket_key=f"{source_uri}*", wildcard_match=True, metadata_keys=LISTING_KEYS, deferrable=False, **kwargs
        )
        self.check_fn = holds_new_work

    def execute(self, context):
        source_uri = resolve(context["params"]).source_uri
        self.bucket_key = f"{source_uri}*"
        try:
            return super().execute(context)
        except AirflowSensorTimeout as timeout:
            raise AirflowSkipException(f"Nothing new under {source_uri} within {self.timeout:.0f} s") from timeout


def holds_new_work(files: list[dict], **context) -> bool:
    """The sensor's ``check_fn``: whether the listed files hold work for this run."""
    settings = resolve(context["params"])
    bucket, _ = discovery.split_uri(settings.source_uri)
    objects = list(discovery.documents_in(bucket, files, (settings.output_uri, settings.quarantine_uri)))
    selection = discovery.Selection.for_run(
        context["dag_run"].run_type, context.get("data_interval_start"), context.get("data_interval_end"),
        context["params"],
    )  # fmt: skip
    catalog = Catalog(settings.catalog_url)
    catalog.migrate()
    found = discovery.new_work(objects, catalog, selection)
    log.info("%d objects listed, %d new (%s)", len(objects), len(found), selection.describe())
    return bool(found)
