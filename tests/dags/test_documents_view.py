"""The Documents view's routes inside Airflow's own api-server app (its auth manager, the plugin as Airflow
loads it), on a catalog and outputs made by a real ``dag.test()`` run: SQLite and PostgreSQL, local S3."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from PIL import Image

from tests.dags.conftest import AIRFLOW_HOME, BUCKET, load_dag
from tests.samples import cer

pytestmark = pytest.mark.usefixtures("airflow_db")
PREFIX = f"s3://{BUCKET}/incoming/view/"
PASSWORDS = {"admin": "admin-secret", "viewer": "viewer-secret"}


def _run(conf: dict | None = None):
    from airflow.utils.state import DagRunState

    dag_run = load_dag().test(run_conf=conf)
    assert dag_run.state == DagRunState.SUCCESS
    return dag_run


@pytest.fixture
def airflow_app(monkeypatch, tmp_path):
    """Airflow's api-server app, in process, with an admin and a read-only user (simple auth manager)."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    passwords = AIRFLOW_HOME / "view-passwords.json"
    passwords.write_text(json.dumps(PASSWORDS))
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin,viewer:viewer")
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(passwords))
    monkeypatch.setenv("OCR_VIEW_CACHE_DIR", str(tmp_path / "view-cache"))
    return TestClient(create_app("core"))


def login(client, user: str) -> dict:
    response = client.post("/auth/token", json={"username": user, "password": PASSWORDS[user]})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def catalogued(s3, catalog_url, sample_docs):
    """Four documents through document_ingest: a page, an upside-down page, a PDF (text layer and scan), a
    corrupt PDF."""
    for name in ("english.png", "upside_down.png", "born_digital.pdf"):
        s3.upload_file(str(sample_docs[name].path), BUCKET, f"incoming/view/{name}")
    s3.put_object(Bucket=BUCKET, Key="incoming/view/broken.pdf", Body=b"%PDF-1.4\n% cut short")
    _run()
    return sample_docs


def items(client, headers, **filters) -> list[dict]:
    response = client.get("/documents/api/documents", params=filters, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def names(found: list[dict]) -> set[str]:
    return {d["source_uri"].removeprefix(PREFIX) for d in found}


def test_list_filters_full_text_search_totals_and_pages(catalogued, airflow_app, catalog_url):
    admin = login(airflow_app, "admin")
    everything = items(airflow_app, admin)
    assert names(everything) == {"english.png", "upside_down.png", "born_digital.pdf", "broken.pdf"}
    [failed] = items(airflow_app, admin, status="failed")
    assert failed["source_uri"] == f"{PREFIX}broken.pdf" and "corrupt or truncated PDF" in failed["error"]
    assert names(items(airflow_app, admin, engine="pdf-text-layer")) == {"born_digital.pdf"}
    assert names(items(airflow_app, admin, prefix=f"{PREFIX}upside")) == {"upside_down.png"}
    assert items(airflow_app, admin, prefix="s3://elsewhere/") == []
    today = datetime.now(UTC).date().isoformat()
    assert len(items(airflow_app, admin, processed_from=today, processed_to=today)) == 4
    assert items(airflow_app, admin, processed_to="2020-01-01") == []

    # full-text search over the recognised text: PostgreSQL's tsvector, SQLite's LIKE; Cyrillic as well
    english_word = next(w for w in catalogued["english.png"].text.split() if len(w) > 7 and w.isalpha())
    assert "english.png" in names(items(airflow_app, admin, q=english_word))
    contract = items(airflow_app, admin, q="Договор поставки")
    assert names(contract) == {"born_digital.pdf"}
    assert items(airflow_app, admin, q="zzqxj") == []

    page = airflow_app.get("/documents/api/documents", params={"limit": 2, "offset": 2}, headers=admin).json()
    assert page["total"] == 4 and len(page["items"]) == 2
    assert {d["id"] for d in page["items"]}.isdisjoint(d["id"] for d in everything[:2])

    summary = airflow_app.get("/documents/api/summary", headers=admin).json()
    pages = sum(d["pages"] or 0 for d in everything)
    assert (summary["documents"], summary["failed"], summary["pages"]) == (4, 1, pages)
    assert summary["pages_per_day"][-1] == {"day": today, "pages": pages} and len(summary["pages_per_day"]) == 30
    assert {"pdf-text-layer", "tesseract"} <= {e.split()[0] for e in summary["engines"]}
    failed_only = airflow_app.get("/documents/api/summary", params={"status": "failed"}, headers=admin).json()
    assert (failed_only["documents"], failed_only["failed"]) == (1, 1)
    assert summary["statuses"] == ["succeeded", "failed"]  # the page's filter takes its choices from here
    unknown = airflow_app.get("/documents/api/documents", params={"status": "done"}, headers=admin)
    assert unknown.status_code == 422, unknown.text


@pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
def test_a_request_builds_its_sources_settings_once(catalogued, airflow_app, monkeypatch):
    from ocr_pipeline import sources

    admin = login(airflow_app, "admin")
    [document] = [d for d in items(airflow_app, admin) if d["source_uri"].endswith("/english.png")]
    built, settings = [], sources.Source.settings
    monkeypatch.setattr(sources.Source, "settings", lambda self, **o: built.append(self.dag_id) or settings(self, **o))
    response = airflow_app.get(f"/documents/api/documents/{document['id']}", headers=admin)
    assert response.status_code == 200 and response.json()["pages"], response.text
    assert built == ["document_ingest"]  # the catalog, the result's JSON and the reprocess conf: one build


@pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
def test_document_page_image_boxes_and_outputs(catalogued, airflow_app, s3):
    import tesserocr

    from ocr_task.tessdata import find_tessdata

    admin = login(airflow_app, "admin")
    by_name = {d["source_uri"].removeprefix(PREFIX): d for d in items(airflow_app, admin)}
    turned = airflow_app.get(f"/documents/api/documents/{by_name['upside_down.png']['id']}", headers=admin).json()
    [page] = turned["pages"]
    assert page["rotation"] == 180 and page["blocks"] and all(len(b["bbox"]) == 4 for b in page["blocks"])
    assert turned["outputs"] == {"text": True, "markdown": True, "json": True, "pdf": True, "quarantine": False}
    assert "rotation 180°" in page["facts"] and page["facts"][0] == "ocr"
    assert not any("undefined" in fact or "None" in fact for fact in page["facts"]), page["facts"]

    # the page as the OCR step saw it: turned upright, with the proportions its boxes are on; Tesseract reads it
    image = airflow_app.get(f"/documents/api/documents/{turned['document']['id']}/pages/0.png", headers=admin)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    picture = Image.open(io.BytesIO(image.content))
    assert abs(picture.width / picture.height - page["width"] / page["height"]) < 0.01
    read = tesserocr.image_to_text(picture, lang="rus", path=str(find_tessdata()))
    assert cer(catalogued["upside_down.png"].text, read) < 0.1

    # a two-page PDF: a text-layer page and a scanned page, each rendered
    pdf = airflow_app.get(f"/documents/api/documents/{by_name['born_digital.pdf']['id']}", headers=admin).json()
    assert [p["source"] for p in pdf["pages"]] == ["text-layer", "ocr"]
    for index in (0, 1):
        assert airflow_app.get(f"/documents/api/documents/{pdf['document']['id']}/pages/{index}.png", headers=admin).status_code == 200
    assert airflow_app.get(f"/documents/api/documents/{pdf['document']['id']}/pages/2.png", headers=admin).status_code == 404

    # outputs stream from S3, exactly as written; only the catalogued ones
    text = airflow_app.get(f"/documents/api/documents/{pdf['document']['id']}/outputs/text", headers=admin)
    key = pdf["document"]["text_uri"].removeprefix(f"s3://{BUCKET}/")
    assert text.content == s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    searchable = airflow_app.get(f"/documents/api/documents/{pdf['document']['id']}/outputs/pdf", headers=admin)
    assert searchable.headers["content-type"] == "application/pdf" and searchable.content.startswith(b"%PDF-")
    broken = by_name["broken.pdf"]
    quarantined = airflow_app.get(f"/documents/api/documents/{broken['id']}/outputs/quarantine", headers=admin)
    assert quarantined.content == b"%PDF-1.4\n% cut short"
    assert airflow_app.get(f"/documents/api/documents/{broken['id']}/outputs/json", headers=admin).status_code == 404
    assert airflow_app.get(f"/documents/api/documents/{broken['id']}/pages/0.png", headers=admin).status_code == 404
    assert airflow_app.get(f"/documents/api/documents/{broken['id']}/outputs/passwd", headers=admin).status_code == 404
    assert airflow_app.get("/documents/api/documents/999999", headers=admin).status_code == 404

    # cached: shown again with the source gone; an object that changed since it was read is never shown as it
    s3.delete_object(Bucket=BUCKET, Key="incoming/view/upside_down.png")
    assert airflow_app.get(f"/documents/api/documents/{turned['document']['id']}/pages/0.png", headers=admin).status_code == 200
    s3.put_object(Bucket=BUCKET, Key="incoming/view/english.png", Body=b"replaced")
    changed = airflow_app.get(f"/documents/api/documents/{by_name['english.png']['id']}/pages/0.png", headers=admin)
    assert changed.status_code == 409 and "has changed since it was read" in changed.json()["detail"]


@pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
def test_authentication_roles_and_one_document_reprocess(catalogued, airflow_app, s3, sample_docs, catalog_url):
    from ocr_pipeline.catalog import Catalog

    assert airflow_app.get("/documents/").status_code == 401
    assert airflow_app.get("/documents/api/documents").status_code == 401
    forged = airflow_app.get("/documents/api/documents", headers={"Authorization": "Bearer forged"})
    assert forged.status_code == 403  # Airflow's answer to a token it did not sign

    admin, viewer = login(airflow_app, "admin"), login(airflow_app, "viewer")
    by_name = {d["source_uri"].removeprefix(PREFIX): d for d in items(airflow_app, viewer)}  # viewers read
    english = by_name["english.png"]
    as_viewer = airflow_app.get(f"/documents/api/documents/{english['id']}", headers=viewer).json()
    as_admin = airflow_app.get(f"/documents/api/documents/{english['id']}", headers=admin).json()
    assert (as_viewer["can_reprocess"], as_admin["can_reprocess"]) == (False, True)
    conf = as_admin["reprocess"]["conf"]
    assert conf == {"document": f"{PREFIX}english.png", "reprocess": True}

    # the page triggers through Airflow's own API with the user's session: Airflow refuses the viewer
    trigger = {"logical_date": None, "conf": conf}
    refused = airflow_app.post("/api/v2/dags/document_ingest/dagRuns", json=trigger, headers=viewer)
    assert refused.status_code == 403

    # the run that conf makes takes that one document again, and no other (not even one its key prefixes)
    s3.upload_file(str(sample_docs["english.png"].path), BUCKET, "incoming/view/english.png.copy")
    before = {r["source_uri"]: r for r in Catalog(catalog_url).rows()}
    _run(conf)
    after = {r["source_uri"]: r for r in Catalog(catalog_url).rows()}
    changed = {uri for uri in after if after[uri]["processed_at"] != before.get(uri, {}).get("processed_at")}
    assert changed == {f"{PREFIX}english.png"}
    assert after[f"{PREFIX}english.png"]["status"] == "succeeded"


@pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
def test_generated_requests_get_no_server_error(catalogued, airflow_app):
    """schemathesis against the view's own OpenAPI document, inside Airflow's app, signed in."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import status_code_conformance

    headers = login(airflow_app, "admin")
    schema = schemathesis.openapi.from_asgi("/documents/openapi.json", airflow_app.app, headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 5
    answered: set[tuple[str, int]] = set()
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck), database=None)  # fmt: skip
        def fuzz(case):
            response = case.call_and_validate(headers=headers, checks=[not_a_server_error, status_code_conformance])
            answered.add((case.operation.label, response.status_code))

        fuzz()
    # the generated ids and filters reached the routes: documents found and not found
    found = {("GET /api/documents", 200), ("GET /api/documents/{document_id}", 200), ("GET /api/documents/{document_id}", 404)}
    assert found <= answered


def test_a_reprocessed_page_is_shown_as_the_new_result_turned_it(s3, sample_docs, tmp_path):
    """The page-image cache is keyed by the OCR result: a Reprocess that turns the page another way never
    shows the old image under the new boxes."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from ocr_pipeline.ui.page_images import PageImages

    s3.upload_file(str(sample_docs["english.png"].path), BUCKET, "incoming/view/english.png")
    etag = s3.head_object(Bucket=BUCKET, Key="incoming/view/english.png")["ETag"].strip('"')
    width, height = Image.open(sample_docs["english.png"].path).size
    page = {"index": 0, "rotation": 0, "width": width, "height": height}
    pages = PageImages(S3Hook(aws_conn_id="aws_default"), tmp_path / "cache")
    uri = f"s3://{BUCKET}/incoming/view/english.png"

    first = Image.open(pages.png(uri, etag, "2026-12-01T10:00:00+00:00", page)).convert("L")
    turned = Image.open(pages.png(uri, etag, "2026-12-01T11:00:00+00:00", {**page, "rotation": 180})).convert("L")

    assert first.size == turned.size
    assert list(turned.getdata()) == list(first.rotate(180).getdata())
    assert list(turned.getdata()) != list(first.getdata())
    again = pages.cached(uri, etag, "2026-12-01T10:00:00+00:00", 0)
    assert again is not None and list(Image.open(again).convert("L").getdata()) == list(first.getdata())


def test_a_source_over_the_views_cap_is_refused_not_downloaded(s3, sample_docs, tmp_path):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from ocr_pipeline.ui.page_images import PageImages, PageUnavailable

    s3.upload_file(str(sample_docs["scanned.pdf"].path), BUCKET, "incoming/view/scanned.pdf")
    etag = s3.head_object(Bucket=BUCKET, Key="incoming/view/scanned.pdf")["ETag"].strip('"')
    pages = PageImages(S3Hook(aws_conn_id="aws_default"), tmp_path / "cache", max_source_bytes=1024)
    with pytest.raises(PageUnavailable, match="more than the view downloads to show a page"):
        pages.png(f"s3://{BUCKET}/incoming/view/scanned.pdf", etag, "r", {"index": 0})
    assert list((tmp_path / "cache" / "sources").iterdir()) == []


@pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
def test_several_sources_filtered_per_source_reprocessed_through_their_own_dag(
    s3, catalog_url, sample_docs, airflow_app, tmp_path, monkeypatch
):
    from airflow.utils.state import DagRunState

    from ocr_pipeline.catalog import Catalog
    from tests.dags.test_sources import SOURCES, load_dags, sources_file

    sources_file(tmp_path, SOURCES, monkeypatch)
    s3.upload_file(str(sample_docs["russian.png"].path), BUCKET, "incoming/view/russian.png")
    s3.upload_file(str(sample_docs["english.png"].path), BUCKET, "invoices/english.png")  # invoices: RapidOCR
    dags = load_dags()
    for dag in dags.values():
        assert dag.test().state == DagRunState.SUCCESS
    admin = login(airflow_app, "admin")

    assert {d["dag_id"] for d in items(airflow_app, admin)} == {"document_ingest", "document_ingest__invoices"}
    [invoice] = items(airflow_app, admin, source="invoices")
    assert invoice["source_uri"] == f"s3://{BUCKET}/invoices/english.png"
    assert names(items(airflow_app, admin, source="default")) == {"russian.png"}
    summary = airflow_app.get("/documents/api/summary", params={"source": "invoices"}, headers=admin).json()
    assert summary["documents"] == 1
    assert summary["sources"] == [
        {"name": "default", "dag_id": "document_ingest", "source_uri": f"s3://{BUCKET}/incoming/"},
        {"name": "invoices", "dag_id": "document_ingest__invoices", "source_uri": f"s3://{BUCKET}/invoices/"},
    ]
    detail = airflow_app.get(f"/documents/api/documents/{invoice['id']}", headers=admin).json()
    assert detail["reprocess"] == {
        "dag_id": "document_ingest__invoices",
        "conf": {"document": invoice["source_uri"], "reprocess": True},
    }
    text = airflow_app.get(f"/documents/api/documents/{invoice['id']}/outputs/text", headers=admin)
    assert text.status_code == 200 and cer(sample_docs["english.png"].text, text.text) < 0.05

    # a row of a DAG that is no source of this deployment (a source taken out of the file) is not shown
    with Catalog(catalog_url).engine.begin() as connection:
        connection.exec_driver_sql("UPDATE documents SET dag_id = 'document_ingest__gone' WHERE id = ?", (invoice["id"],))
    assert airflow_app.get(f"/documents/api/documents/{invoice['id']}", headers=admin).status_code == 404
    assert items(airflow_app, admin, source="invoices") == []


@pytest.mark.parametrize(
    "page, shown, not_shown",
    [
        ({"source": "ocr", "rotation": 0, "orientation_check": {"read_as_is": 0.93, "detected_rotation": 0}},
         "orientation checked: read as it came, confidence 0.93", "undefined"),
        ({"source": "ocr", "rotation": 90, "orientation_check": {"read_as_is": 0.2, "tried": {"0": 0.2, "90": 0.9},
                                                                  "kept_rotation": 90}},
         "orientation checked (0°: 0.20, 90°: 0.90), kept 90°", "None"),
        ({"source": "text-layer", "text_layer_check": {"used": True, "reason": "OCR of its lines reads the same"}},
         "text layer used: OCR of its lines reads the same", "rotation None"),
        ({}, "rotation 0°", "None"),
    ],
    ids=["read as it came", "turned", "text layer", "no fields"],
)  # fmt: skip
def test_page_facts_come_from_the_pages_fields_and_never_say_undefined(page, shown, not_shown):
    from ocr_pipeline.ui.page_facts import page_facts

    facts = page_facts(page)
    assert shown in facts and not any(not_shown in f for f in facts), facts
