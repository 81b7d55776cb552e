"""What the ``ocr`` task tells OpenLineage about one batch, whichever launcher ran it.

* inputs: the batch's S3 objects (from the report; from the manifest when the batch wrote no report);
* outputs: the text, Markdown, JSON and searchable PDF written, only for documents that have them (a failed document is no
  output);
* the ``ocrBatch`` run facet (schema: ``docs/lineage/OcrBatchRunFacet.json``): the batch, its manifest and
  report, its figures, and the Airflow run and attempt it belongs to. With the provider's ``parent`` facet it
  ties the batch to its DAG run.
"""

from __future__ import annotations

import attr
from openlineage.client.event_v2 import Dataset
from openlineage.client.facet_v2 import RunFacet

from ocr_pipeline import layout
from ocr_pipeline.handoffs import Batch
from ocr_task.contract import Manifest, Report

FACET_NAME = "ocrBatch"
FACET_SCHEMA = "https://github.com/ocr-ingest/ocr-ingest/blob/main/docs/lineage/OcrBatchRunFacet.json#/$defs/OcrBatchRunFacet"


@attr.define
class OcrBatchRunFacet(RunFacet):
    batchId: str  # noqa: N815 - OpenLineage facets are camelCase
    dagId: str  # noqa: N815
    dagRunId: str  # noqa: N815
    tryNumber: int  # noqa: N815
    manifestUri: str  # noqa: N815
    reportUri: str  # noqa: N815
    documents: int | None = None
    succeeded: int | None = None
    failed: int | None = None
    pages: int | None = None

    @staticmethod
    def _get_schema() -> str:
        return FACET_SCHEMA


def s3_dataset(uri: str) -> Dataset:
    """An S3 object by OpenLineage's naming convention: namespace ``s3://bucket``, name the key."""
    bucket, key = layout.split(uri)
    return Dataset(namespace=f"s3://{bucket}", name=key)


def batch_lineage(batch: Batch, report: Report | None, manifest: Manifest | None, task_instance):
    """The OperatorLineage of one ``ocr`` attempt: ``report`` when the step wrote one, else ``manifest``."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    if report is not None:
        sources = [entry.source for entry in report.documents]
        written = [entry.outputs for entry in report.documents if entry.outputs]
        outputs = [s3_dataset(uri) for o in written for uri in (o.text, o.markdown, o.json_, o.pdf) if uri]
    else:
        sources = [document.source for document in manifest.documents] if manifest else []
        outputs = []
    figures = report.summary.model_dump(include={"documents", "succeeded", "failed", "pages"}) if report else {}
    facet = OcrBatchRunFacet(
        batchId=batch.batch_id, dagId=task_instance.dag_id, dagRunId=task_instance.run_id,
        tryNumber=task_instance.try_number, manifestUri=batch.manifest_uri, reportUri=batch.report_uri,
        **figures,
    )  # fmt: skip
    return OperatorLineage(
        inputs=[s3_dataset(uri) for uri in sources], outputs=outputs, run_facets={FACET_NAME: facet}
    )
