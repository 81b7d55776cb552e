"""The catalog's tables as Airflow assets: the ``catalog`` task's outlets. Each run that writes the catalog
makes an asset event (a DAG can be scheduled on the catalog), and the OpenLineage provider names them by
OpenLineage's convention for PostgreSQL (namespace ``postgres://host:port``, name ``database.schema.table``;
the postgres provider converts the ``postgres://host:port/database/schema/table`` URI).

A SQLite catalog (the demo, the DAG tests) has no such convention and no asset.

The provider reports a task's *hook* lineage instead of its outlets when there is any, and the ``catalog``
task reads and writes S3 through ``S3Hook``: so the task also tells the hook lineage collector that it wrote
the tables (``report_catalog_written``), and they reach OpenLineage beside the S3 objects.
"""

from __future__ import annotations

from airflow.sdk import Asset
from sqlalchemy.engine import make_url

from ocr_pipeline.catalog.schema import document_texts, documents

DEFAULT_SCHEMA = "public"


def catalog_assets(url: str) -> list[Asset]:
    """The tables the ``catalog`` task writes, as assets; none for a catalog that is not on PostgreSQL."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return []
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    return [
        Asset(uri=f"postgres://{where}/{parsed.database}/{DEFAULT_SCHEMA}/{table.name}",
              name=f"ocr_catalog.{parsed.database}.{table.name}")
        for table in (documents, document_texts)
    ]  # fmt: skip


def report_catalog_written(url: str, catalog: object) -> None:
    """Record in Airflow's hook lineage that the catalog's tables were written (``catalog``: who wrote them)."""
    from airflow.sdk.lineage import get_hook_lineage_collector

    collector = get_hook_lineage_collector()
    for asset in catalog_assets(url):
        collector.add_output_asset(context=catalog, uri=asset.uri, name=asset.name)
