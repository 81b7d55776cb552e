"""The "Documents" view in the Airflow UI: the catalog, each page beside what was read from it, and a
Reprocess button. Its FastAPI app runs inside the api-server under ``/documents``; the navigation shows it
as an external view. The code is in ``ocr_pipeline.ui``."""

from __future__ import annotations

from functools import cached_property

from airflow.plugins_manager import AirflowPlugin


class DocumentsApp:
    """The view's ASGI app, built on its first request.

    Airflow loads every plugin in every task process too (for their
    listeners); the view's imports (Airflow's API server and FastAPI) took
    0.9 s there, three times a run, and were never used.
    """

    @cached_property
    def app(self):
        from ocr_pipeline.ui.app import create_app

        return create_app()

    async def __call__(self, scope, receive, send):
        await self.app(scope, receive, send)


class DocumentsPlugin(AirflowPlugin):
    name = "documents"
    fastapi_apps = [{"app": DocumentsApp(), "url_prefix": "/documents", "name": "Documents"}]
    external_views = [
        {
            "name": "Documents",
            "href": "documents/",  # relative: resolved against the UI's base URL
            "destination": "nav",
            "url_route": "documents",
            "nav_top_level": True,
        }
    ]
