"""The "Documents" view in the Airflow UI: the catalog, each page beside what was read from it, and a
Reprocess button. Its FastAPI app runs inside the api-server under ``/documents``; the navigation shows it
as an external view. The code is in ``ocr_pipeline.ui``."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from ocr_pipeline.ui.app import create_app


class DocumentsPlugin(AirflowPlugin):
    name = "documents"
    fastapi_apps = [{"app": create_app(), "url_prefix": "/documents", "name": "Documents"}]
    external_views = [
        {
            "name": "Documents",
            "href": "documents/",  # relative: resolved against the UI's base URL
            "destination": "nav",
            "url_route": "documents",
            "nav_top_level": True,
        }
    ]
