"""The Documents view in a real browser (Debian's chromium, driven by Playwright) on the Celery deployment:
signed in through the Airflow UI's own login page, opened from the UI's navigation, reprocessing through
Airflow's REST API. Screenshots of the list and of a document go to ``test-artefacts/``."""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

import pytest

ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts"
CHROMIUM = "/usr/bin/chromium"
# no background traffic: this machine's closed network refuses it, and tests must not depend on it
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]  # fmt: skip


@contextmanager
def chromium():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: make install installs Debian's chromium")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def signed_in(browser, deployment, user: str):
    """A page signed in through the UI's login form, showing the Documents view from the navigation."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{deployment.stack.api_url}/")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(deployment.stack.password_of(user))
    page.get_by_role("button", name="Sign in").click()
    # the plugin's entry in the UI's navigation (the home page may also list the catalog's assets, whose
    # names end in ".documents")
    page.get_by_test_id("nav-sidebar").get_by_role("link", name="Documents").click()
    frame = page.frame_locator("iframe")
    frame.locator("#documents tbody tr").first.wait_for(timeout=30_000)
    return page, frame


@pytest.fixture(scope="module")
def catalogued(deployment, sample_docs):
    """A manual run over three documents: an English page, a Russian page upside down, a corrupt PDF."""
    prefix = deployment.new_prefix("view")
    deployment.upload(prefix, sample_docs["english.png"].path, "english.png")
    deployment.upload(prefix, sample_docs["upside_down.png"].path, "upside_down.png")
    bucket, folder = prefix.removeprefix("s3://").split("/", 1)
    deployment.s3.put_object(Bucket=bucket, Key=f"{folder}broken.pdf", Body=b"%PDF-1.4\n% cut short")
    run_id = deployment.api.trigger({"source_uri": prefix})
    assert deployment.api.wait_for_run(run_id) == "success"
    return prefix


def test_list_filter_document_view_hover_and_reprocess(deployment, catalogued):
    ARTEFACTS.mkdir(exist_ok=True)
    prefix = catalogued
    with chromium() as browser:
        page, frame = signed_in(browser, deployment, deployment.stack.user)
        frame.locator("input[name=prefix]").fill(prefix)
        frame.get_by_role("button", name="Filter").click()
        frame.get_by_text("1–3 of 3").wait_for()
        page.screenshot(path=ARTEFACTS / "documents-list.png")

        frame.locator("select[name=status]").select_option("failed")
        frame.get_by_role("button", name="Filter").click()
        frame.get_by_text("1–1 of 1").wait_for()
        [failed] = frame.locator("#documents tbody tr").all()
        assert failed.get_attribute("data-status") == "failed"
        assert f"{prefix}broken.pdf" in failed.inner_text() and "corrupt or truncated PDF" in failed.inner_text()
        assert frame.locator("#total-failed").inner_text() == "1"

        # the document view: the page upright, a box per line over it, the text beside it
        frame.locator("select[name=status]").select_option("succeeded")
        frame.get_by_role("button", name="Filter").click()
        frame.get_by_role("link", name=f"{prefix}upside_down.png").click()
        frame.locator("#boxes rect").first.wait_for()
        frame.locator("#page-picture").evaluate("img => img.decode()")
        assert frame.locator("#page-picture").evaluate("img => img.naturalWidth") > 0
        boxes, lines = frame.locator("#boxes rect"), frame.locator("#page-text li")
        assert boxes.count() == lines.count() >= 10
        assert "rotation 180°" in frame.locator("#page-facts").inner_text()
        boxes.nth(3).hover()
        assert frame.locator("#page-text li.highlight").all_inner_texts() == [lines.nth(3).inner_text()]
        lines.nth(5).hover()
        assert frame.locator("#boxes rect.highlight").count() == 1
        assert frame.locator("#boxes rect").nth(5).get_attribute("class").endswith("highlight")
        page.screenshot(path=ARTEFACTS / "document-view.png")

        # reprocess: a run of document_ingest for this one document, through Airflow's API, shown on the page
        frame.get_by_role("button", name="Reprocess").click()
        frame.get_by_text(re.compile("new run")).wait_for()
        run_id = frame.locator("#reprocess-result a").inner_text()
        assert deployment.api.wait_for_run(run_id) == "success"
        conf = deployment.api.run(run_id).conf
        assert conf["document"] == f"{prefix}upside_down.png" and conf["reprocess"] is True
        rows = {r["source_uri"]: r for r in deployment.catalog_rows(prefix)}
        assert rows[f"{prefix}upside_down.png"]["run_id"] == run_id
        assert rows[f"{prefix}english.png"]["run_id"] != run_id

        # a read-only user sees the same document and cannot reprocess it
        viewer_page, viewer = signed_in(browser, deployment, deployment.stack.viewer)
        viewer.get_by_role("link", name=f"{prefix}english.png").click()
        viewer.locator("#boxes rect").first.wait_for()
        assert viewer.get_by_role("button", name="Reprocess").is_disabled()
        viewer_page.close()
