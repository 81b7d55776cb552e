"""DAG-side code of the document pipeline: discovery, batches, launchers, catalog, lineage.

Knows S3, Airflow and SQL; never imports an OCR engine. It meets the OCR step
at the manifest and the report (``ocr_task.contract``).
"""
