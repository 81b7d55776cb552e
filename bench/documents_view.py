"""How fast the Documents view lists a catalog of ``--documents`` documents, on SQLite and PostgreSQL.

    .venv/bin/python bench/documents_view.py [--documents 2000] [--repeat 30]

The requests go through Airflow's own api-server app (in this process, through its ASGI stack: the auth
manager checks a bearer token on every request, the plugin's app answers), the way the page makes them.
The catalog is filled with ``--documents`` rows spread over 30 days (a tenth failed, three engines) and
a recognised text of about 1,500 characters each. For each request the median and the 95th percentile
of ``--repeat`` runs are printed; "list page" is the two requests the view makes to show a page of the
list (the page of 50 and the totals with the chart).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "plugins")]

WORDS = (
    "invoice contract delivery payment account balance report quarter supplier warehouse pallet договор "
    "поставка счёт оплата склад отчёт квартал поставщик накладная акт сверки"
).split()


def fill(catalog_url: str, count: int) -> None:
    from ocr_pipeline.catalog import Catalog
    from ocr_pipeline.catalog.schema import DocumentRow

    catalog, rng, now = Catalog(catalog_url), random.Random(7), datetime.now(UTC)
    catalog.migrate()
    rows, texts = [], {}
    for n in range(count):
        failed = n % 10 == 0
        row = DocumentRow(**{
            "source_uri": f"s3://docs/incoming/2026/{n // 100:03d}/document-{n:05d}.pdf", "etag": f"{n:032x}",
            "size": 200_000, "last_modified": now, "status": "failed" if failed else "succeeded",
            "error": "corrupt or truncated PDF: no pages could be read" if failed else None,
            "pages": 0 if failed else rng.randint(1, 12), "characters": 0 if failed else rng.randint(500, 30_000),
            "mean_confidence": None if failed else rng.uniform(0.6, 0.99),
            "engine": ("tesseract 5.5.4", "rapidocr 3.4.2", "pdf-text-layer, tesseract 5.5.4")[n % 3],
            "dag_id": "document_ingest", "run_id": f"scheduled__{n // 200}", "try_number": 1,
            "processed_at": now - timedelta(days=rng.randint(0, 29), seconds=rng.randint(0, 86_000)),
        })  # fmt: skip
        rows.append(row)
        if not failed:
            texts[(row.source_uri, row.etag)] = " ".join(rng.choice(WORDS) for _ in range(180))
    catalog.upsert(rows, texts)


def airflow_app(home: Path):
    """Airflow's api-server app with this repository's plugins, and an admin's bearer token."""
    os.environ.update({
        "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"), "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
    })  # fmt: skip
    (home / "passwords.json").write_text(json.dumps({"admin": "bench"}))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path[:2])}
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, env=env, capture_output=True)
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    client = TestClient(create_app("core"))
    token = client.post("/auth/token", json={"username": "admin", "password": "bench"}).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def timed(client, requests: list[tuple[str, dict]], repeat: int) -> tuple[float, float]:
    """Median and 95th percentile, in ms, of making ``requests`` one after the other."""
    for path, params in requests:  # warm: connections, caches, the first plan
        assert client.get(path, params=params).status_code == 200
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        for path, params in requests:
            client.get(path, params=params).raise_for_status()
        seconds.append(time.perf_counter() - started)
    seconds.sort()
    return statistics.median(seconds) * 1000, seconds[int(0.95 * (len(seconds) - 1))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    import logging

    logging.disable(logging.INFO)
    from tests.postgres import drop_database, new_database

    home = Path(tempfile.mkdtemp(prefix="bench-view-"))
    client = airflow_app(home)
    cases = {
        "list page (50 rows + totals and chart)": [("/documents/api/documents", {"limit": 50}), ("/documents/api/summary", {})],
        "  the page of 50 alone": [("/documents/api/documents", {"limit": 50})],
        "  the totals and chart alone": [("/documents/api/summary", {})],
        "last page (offset 1950)": [("/documents/api/documents", {"limit": 50, "offset": args.documents - 50})],
        "failed only, with totals": [("/documents/api/documents", {"status": "failed"}), ("/documents/api/summary", {"status": "failed"})],
        "full-text search, with totals": [("/documents/api/documents", {"q": "накладная"}), ("/documents/api/summary", {"q": "накладная"})],
    }  # fmt: skip
    print(f"{args.documents} documents in the catalog; median and p95 of {args.repeat} runs, ms")
    for backend in ("sqlite", "postgresql"):
        url = f"sqlite:///{home / 'catalog.db'}" if backend == "sqlite" else new_database("ocr_bench_view")
        try:
            fill(url, args.documents)
            os.environ["OCR_CATALOG_URL"] = url
            print(f"\n{backend}")
            for name, requests in cases.items():
                median, p95 = timed(client, requests, args.repeat)
                print(f"  {name:42} {median:7.1f} {p95:7.1f}")
        finally:
            if backend == "postgresql":
                from ocr_pipeline.catalog.sql import engine_for as _engine

                _engine(url).dispose()
                drop_database(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
