"""document_ingest: scanned documents from an S3 prefix to text, Markdown and JSON, and a catalog row each.

One DAG per source (``ocr_pipeline.sources``): ``document_ingest`` for the default source,
``document_ingest__<name>`` for each other source of the sources file, all writing to one catalog.

discover (a sensor: new work only; then claims the run's work in the
catalog and plans it: batches, a manifest each in S3) → ocr (one mapped task per
batch, in the ``gpu`` pool) → catalog (the batches' reports into catalog rows; the run's verdict). Few tasks
on purpose: each costs an event run seconds of scheduling (see the README's "A run's fixed cost").

The run's state is its one leaf's, ``catalog``'s: it fails, naming the batches, when an OCR batch failed
after its retries; it is ``upstream_failed`` when ``discover`` failed; it is skipped only with the rest of a
run that found nothing new. So a run in which any step failed is a failed run, with no task of its own for
the verdict (one scheduler pass less a run).

Lineage: ``ocr`` has the batch's S3 objects as inputs and the outputs written as outputs (OpenLineage),
the ``ocr_outputs`` asset as its outlet; ``catalog`` has the catalog's tables as outlets
(``ocr_pipeline.catalog.assets``).

Which objects a run takes (scheduled: the backlog before its interval's end;
backfill: exactly its interval; manual: everything new or the form's dates;
event mode, a source's ``event_queue_url``: the objects its S3 notifications name, see ``ocr_pipeline.events``)
is in ``ocr_pipeline.discovery``; where settings come from in
``ocr_pipeline.settings``. S3 through the ``aws_default`` connection (its
``endpoint_url`` extra points it at MinIO or a local server).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, AssetOrTimeSchedule, Param, dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

from ocr_pipeline import events, sources, tasks
from ocr_pipeline.catalog.assets import catalog_assets
from ocr_pipeline.handoffs import Batch, launched_of
from ocr_pipeline.launchers import load_launcher
from ocr_pipeline.sensors import DiscoverySensor
from ocr_pipeline.settings import DagShapeSettings, PipelineSettings, resolve
from ocr_task.engines import engine_names

# Read when the DAG file is parsed: what the DAGs' shape depends on (the environment and the sources file).
SHAPE = DagShapeSettings()
RETRIES = {
    "retries": 2,
    "retry_delay": timedelta(seconds=SHAPE.retry_delay_seconds),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
}
BATCH_TIMEOUT = timedelta(hours=SHAPE.batch_timeout_hours)
# Active runs at once. In event mode many more: Airflow 3 leaves an asset event that arrives while its DAG is
# at max_active_runs without a run until the next event comes (apache/airflow#56050): with 4, a burst of 200
# uploads (10 asset events) got 5 runs and the other 100 documents waited for their messages to come back
# (the visibility timeout). The cost: runs at once share the host's cores, and each is slower.
MAX_ACTIVE_RUNS, EVENT_MAX_ACTIVE_RUNS = 2, 16


def timetable(deployed: PipelineSettings, source: sources.Source):
    """The daily schedule; in event mode, also a run for the objects S3 notifications name as they arrive
    (the schedule stays as the safety net)."""
    daily = CronDataIntervalTimetable(deployed.schedule, timezone="UTC")
    if not deployed.event_queue_url:
        return daily
    return AssetOrTimeSchedule(timetable=daily, assets=[events.notifications_asset(deployed, source.asset_name("document_ingest_notifications"))])


def form(deployed: PipelineSettings) -> dict:
    """The trigger form: each field's empty value means the source's configured setting."""
    return {
        "source_uri": Param(
            None, type=["null", "string"], title="Source prefix",
            description=f"s3://bucket/prefix/ to ingest. Empty: the configured prefix ({deployed.source_uri}).",
        ),
        "engine": Param(
            None, type=["null", "string"], enum=[None, *engine_names()], title="OCR engine",
            description=f"Empty: the configured engine ({deployed.engine}). auto picks per page: text layer, "
            "script, PaddleOCR-VL when enabled.",
        ),
        "lang": Param(
            None, type=["null", "string"], title="Language hint",
            description="Tesseract-style, e.g. rus+eng. Empty: "
            + (f"the configured {deployed.lang}." if deployed.lang else "detected per page."),
        ),
        "batch_size": Param(
            None, type=["null", "integer"], minimum=1, maximum=500, title="Documents per batch",
            description=f"Empty: the configured size ({deployed.batch_size}).",
        ),
        "reprocess": Param(
            False, type="boolean", title="Reprocess",
            description="Process documents again even if the catalog has them with the same ETag.",
        ),
        "reprocess_before": Param(
            None, type=["null", "string"], format="date-time", title="Reprocess what was processed before",
            description="With Reprocess: only documents last processed before this time, least recently processed "
            "first. Empty: before this run began. Give the same time to several runs to go through a large prefix.",
        ),
        "document": Param(
            None, type=["null", "string"], pattern="^s3://[^/]+/.+[^/]$", title="One document",
            description="s3://bucket/key of one object: the run takes only that object (the Documents view's "
            "Reprocess sets it, with Reprocess on).",
        ),
        "date_from": Param(
            None, type=["null", "string"], format="date", title="Modified from",
            description="Only objects last modified on or after this day (UTC). Empty with 'to' empty: a manual "
            "run takes everything new.",
        ),
        "date_to": Param(
            None, type=["null", "string"], format="date", title="Modified to",
            description="Only objects last modified on or before this day (UTC).",
        ),
    }  # fmt: skip


def ingest_dag(source: sources.Source):
    """The DAG of one source."""
    deployed = source.settings()
    outputs = Asset(uri=deployed.output_uri, name=source.asset_name("ocr_outputs"))
    launcher = load_launcher(deployed.launcher)

    @dag(
        dag_id=source.dag_id,
        schedule=timetable(deployed, source),
        start_date=datetime(2024, 1, 1),
        catchup=False,
        max_active_runs=EVENT_MAX_ACTIVE_RUNS if deployed.event_queue_url else MAX_ACTIVE_RUNS,
        default_args=RETRIES,
        params=form(deployed),
        tags=["ocr", "s3", f"source:{source.name}"],
        doc_md=__doc__,
    )
    def document_ingest():
        discover = DiscoverySensor(
            task_id="discover", poke_interval=SHAPE.sensor_poke_seconds, timeout=SHAPE.sensor_timeout
        )

        @task(trigger_rule="all_done_min_one_success", outlets=catalog_assets(deployed.catalog_url))
        def catalog(batches: list[dict], launched, params=None, dag_run=None) -> dict:
            day = (dag_run.logical_date or dag_run.run_after).date()
            planned = [Batch.model_validate(b) for b in batches]
            ran = launched_of(launched)
            settings = resolve(params, dag_run.dag_id)
            return tasks.catalog(settings, planned, ran, dag_run.dag_id, dag_run.run_id, day).model_dump()

        ocr = launcher.partial(
            task_id="ocr",
            storage_conn_id=deployed.aws_conn_id,
            pool="gpu",
            outlets=[outputs],
            execution_timeout=BATCH_TIMEOUT,
            **launcher.deployment_arguments(),
        ).expand(batch=discover.output)
        catalog(discover.output, ocr.output)

    return document_ingest()


for _source in sources.load():  # the standard dynamic-DAG pattern: one DAG object per source, at module level
    globals()[_source.dag_id] = ingest_dag(_source)
