"""document_ingest: scanned documents from an S3 prefix to text, Markdown and JSON, and a catalog row each.

sense → discover → plan → ocr (one mapped task per batch, in the ``gpu`` pool)
→ postprocess (per batch) → catalog.

Configuration: OCR_SOURCE_URI, OCR_OUTPUT_URI, OCR_CATALOG_URL, OCR_ENGINE,
OCR_LAUNCHER (environment; Airflow Variables ``ocr_<name>`` override at run
time; the trigger form overrides both). S3 through the ``aws_default``
connection (its ``endpoint_url`` extra points it at MinIO or a local server).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.sdk import Asset, Param, dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

from ocr_pipeline import tasks
from ocr_pipeline.launchers import LAUNCHER_OPERATORS, launcher_arguments
from ocr_pipeline.settings import PipelineSettings, resolve

# Read when the DAG is parsed: only what the DAG's shape depends on.
DEPLOYED = PipelineSettings.from_env()
OUTPUTS = Asset(uri=DEPLOYED.output_uri, name="ocr_outputs")
SCHEDULE = os.environ.get("OCR_SCHEDULE", "0 2 * * *")
SENSOR_TIMEOUT = int(os.environ.get("OCR_SENSOR_TIMEOUT", str(6 * 3600)))
SENSOR_DEFERRABLE = os.environ.get("OCR_SENSOR_DEFERRABLE", "true").lower() == "true"
SENSOR_POKE_SECONDS = int(os.environ.get("OCR_SENSOR_POKE_SECONDS", "60"))

PARAMS = {
    "source_uri": Param(
        None, type=["null", "string"], title="Source prefix",
        description=f"s3://bucket/prefix/ to ingest. Empty: the configured prefix ({DEPLOYED.source_uri}).",
    ),
    "engine": Param(
        None, type=["null", "string"], enum=[None, "auto", "tesseract", "rapidocr", "paddleocr-vl"], title="OCR engine",
        description="Empty: the configured engine (OCR_ENGINE). auto picks per page: text layer, script, PaddleOCR-VL when enabled.",
    ),
    "lang": Param(
        None, type=["null", "string"], title="Language hint",
        description="Tesseract-style, e.g. rus+eng. Empty: detected per page.",
    ),
    "batch_size": Param(
        None, type=["null", "integer"], minimum=1, maximum=500, title="Documents per batch",
        description=f"Empty: the configured size ({DEPLOYED.batch_size}).",
    ),
    "reprocess": Param(
        False, type="boolean", title="Reprocess",
        description="Process documents again even if the catalog has them with the same ETag.",
    ),
    "date_from": Param(
        None, type=["null", "string"], format="date", title="Modified from",
        description="Only objects last modified on or after this day (UTC). Empty with 'to' empty: a manual run takes everything new.",
    ),
    "date_to": Param(
        None, type=["null", "string"], format="date", title="Modified to",
        description="Only objects last modified on or before this day (UTC).",
    ),
}  # fmt: skip

RETRIES = {
    "retries": 2,
    "retry_delay": timedelta(seconds=int(os.environ.get("OCR_RETRY_DELAY_SECONDS", "60"))),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=30),
}


@dag(
    dag_id="document_ingest",
    schedule=CronDataIntervalTimetable(SCHEDULE, timezone="UTC"),
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=2,
    default_args=RETRIES,
    params=PARAMS,
    tags=["ocr", "s3"],
    doc_md=__doc__,
)
def document_ingest():
    source = "{{ params.source_uri or var.value.get('ocr_source_uri', '" + DEPLOYED.source_uri + "') }}"
    sense = S3KeySensor(
        task_id="wait_for_documents",
        bucket_key=source + "*",
        wildcard_match=True,
        aws_conn_id=DEPLOYED.aws_conn_id,
        deferrable=SENSOR_DEFERRABLE,
        poke_interval=SENSOR_POKE_SECONDS,
        timeout=SENSOR_TIMEOUT,
        soft_fail=True,  # nothing arrived in time: the run is skipped, not failed
    )

    @task
    def discover(params=None, dag_run=None, data_interval_start=None, data_interval_end=None) -> list[dict]:
        settings = resolve(params)
        return tasks.discover(settings, params, str(dag_run.run_type), data_interval_start, data_interval_end)

    @task
    def plan(objects: list[dict], params=None, run_id=None) -> list[dict]:
        return tasks.plan(resolve(params), params, objects, run_id)

    @task(trigger_rule="all_done")
    def postprocess(batch: dict, params=None, ti=None) -> dict:
        launched = ti.xcom_pull(task_ids="ocr", map_indexes=ti.map_index)
        return tasks.collect(resolve(params), batch, launched)

    @task(trigger_rule="all_done")
    def catalog(results, params=None, dag=None, run_id=None, dag_run=None) -> dict:
        day = (dag_run.logical_date or dag_run.run_after).date()
        return tasks.record(resolve(params), [r for r in results if r], dag.dag_id, run_id, day)

    found = discover()
    sense >> found
    batches = plan(found)
    ocr = (
        LAUNCHER_OPERATORS[DEPLOYED.launcher]
        .partial(
            task_id="ocr",
            storage_conn_id=DEPLOYED.aws_conn_id,
            pool="gpu",
            outlets=[OUTPUTS],
            execution_timeout=timedelta(hours=int(os.environ.get("OCR_BATCH_TIMEOUT_HOURS", "4"))),
            **launcher_arguments(DEPLOYED.launcher),
        )
        .expand(batch=batches)
    )
    results = postprocess.expand(batch=batches)
    ocr >> results
    catalog(results)


document_ingest()
