"""The DAG's first task: wait until the source prefix holds work for this run."""

from __future__ import annotations

import logging

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException

from ocr_pipeline import discovery
from ocr_pipeline.catalog import Catalog
from ocr_pipeline.settings import resolve

log = logging.getLogger(__name__)


class NewDocumentsSensor(BaseSensorOperator):
    """Satisfied only by *new* work: an object that this run's selection admits, that the catalog has not
    finished and that no other run holds (see ``discovery``).

    Each poke walks the listing (or the inventory report) a page at a time
    and stops at the first new object, so a poke costs one listing page when
    there is work and memory stays flat whatever the bucket's size (the
    provider's ``S3KeySensor`` lists every matching key into memory). Only
    running out of time skips the run (nothing arrived); a failure to reach
    S3 or the catalog fails it, like any other error. Runs in reschedule
    mode: the worker slot is free between pokes.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("mode", "reschedule")
        super().__init__(**kwargs)

    def execute(self, context):
        try:
            return super().execute(context)
        except AirflowSensorTimeout as timeout:
            source = resolve(context["params"]).source_uri
            raise AirflowSkipException(f"Nothing new under {source} within {self.timeout:.0f} s") from timeout

    def poke(self, context) -> bool:
        settings = resolve(context["params"])
        selection = discovery.Selection.for_run(
            context["dag_run"].run_type, context.get("data_interval_start"), context.get("data_interval_end"),
            context["params"],
        )  # fmt: skip
        run_id = context["dag_run"].run_id
        catalog = Catalog(settings.catalog_url)
        catalog.migrate()

        pages = discovery.source_pages(settings, S3Hook(aws_conn_id=settings.aws_conn_id), selection.document)
        found, walk = discovery.new_work(
            pages, selection, discovery.catalog_check(catalog, run_id, selection.reprocess), capacity=1, order="key"
        )
        log.info("%s under %s (%s): %d listed before deciding", "New work" if found else "Nothing new",
                 settings.source_uri, selection.describe(), walk.listed)  # fmt: skip
        return bool(found)
