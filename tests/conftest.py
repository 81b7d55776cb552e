"""Shared fixtures: a real S3 API server on loopback, and documents with known text."""

from __future__ import annotations

import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from ocr_task.storage import s3_client
from tests import samples
from tests.postgres import new_database, server_kept_up

REPO = Path(__file__).resolve().parent.parent
DOCS_BUCKET = "docs"  # the bucket of the ``s3`` fixture (tests.airflow_env points the pipeline's settings at it)


@dataclass
class S3Server:
    endpoint: str
    env: dict[str, str]

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
        )

    def new_bucket(self) -> str:
        name = f"test-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name


def start_s3_server() -> tuple[ThreadedMotoServer, S3Server]:
    """moto in server mode on a free loopback port, and how to reach it (the test session's and the benchmarks')."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    return server, S3Server(env["AWS_ENDPOINT_URL"], env)


@pytest.hookimpl(wrapper=True)  # a wrapper: marked before ``-m`` selects
def pytest_collection_modifyitems(config, items):
    """``make test`` (scripts/run_tests.sh) runs two pytest processes side by side: one takes the tests
    marked ``machine_services`` here, the system tests, in order (they share one deployment on the machine's
    PostgreSQL and Redis, and stop and restart those servers); the other takes every other test. Those of
    them that use the machine's PostgreSQL keep it up while they run (``postgresql_kept_up``)."""
    for item in items:
        if "system" in item.keywords:
            item.add_marker(pytest.mark.machine_services)
    items.sort(key=lambda item: "quiet_machine" in item.keywords)  # stable: the latency measurements last
    return (yield)


@pytest.fixture(autouse=True)
def postgresql_kept_up(request):
    """A test off the deployment on the machine's PostgreSQL (``[postgresql]``) holds it up: the chaos test in
    the other pytest process stops that server only when no such test runs (``tests.postgres.server_kept_up``)."""
    if "postgresql" in request.node.name and "system" not in request.keywords:
        with server_kept_up():
            yield
    else:
        yield


@pytest.fixture(scope="session")
def s3_server():
    """The S3 server of the test session; this process and its children talk to it over HTTP."""
    server, s3 = start_s3_server()
    env = s3.env
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    s3_client.cache_clear()
    yield s3
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    s3_client.cache_clear()


@dataclass
class Sample:
    path: Path
    text: str  # the text drawn, in reading order
    first_page_text: str | None = None


@pytest.fixture(scope="session")
def sample_docs(tmp_path_factory) -> dict[str, Sample]:
    """One document of each kind the OCR step reads, with the text it holds."""
    folder = tmp_path_factory.mktemp("samples")
    english = samples.render_page(samples.paragraphs("en", 5, seed=1), title="Quarterly Report")
    russian = samples.render_page(samples.paragraphs("ru", 5, seed=2), title="Акт сверки")
    english_2 = samples.render_page(samples.paragraphs("en", 4, seed=3))
    russian_2 = samples.render_page(samples.paragraphs("ru", 4, seed=4))
    two_column = samples.render_page(
        samples.paragraphs("en", 8, seed=5), columns=2, title="Two Column Bulletin"
    )
    docs: dict[str, Sample] = {}

    def add(name: str, text: str, save) -> None:
        path = folder / name
        save(path)
        docs[name] = Sample(path, text)

    add("english.png", english.text, english.image.save)
    add("russian.png", russian.text, russian.image.save)
    add(
        "english scan.jpg",
        english_2.text,
        lambda p: samples.scan_like(english_2.image, seed=1).save(p, quality=90),
    )
    add(
        "russian_scan.jpg",
        russian_2.text,
        lambda p: samples.scan_like(russian_2.image, seed=2).save(p, quality=90),
    )
    add("two_column.png", two_column.text, two_column.image.save)
    add("sideways_90.png", english_2.text, lambda p: samples.turned(english_2.image, 90).save(p))
    add("upside_down.png", russian_2.text, lambda p: samples.turned(russian_2.image, 180).save(p))
    add(
        "sideways_270.webp", english.text, lambda p: samples.turned(english.image, 270).save(p, lossless=True)
    )
    add(
        "two_pages.tiff",
        f"{english_2.text} {russian_2.text}",
        lambda p: samples.multipage_tiff([english_2.image, russian_2.image], p),
    )
    add(
        "scanned.pdf",
        f"{russian.text} {english.text}",
        lambda p: samples.image_pdf([russian.image, english.image], p),
    )
    text_paras = samples.paragraphs("ru", 3, seed=6)
    born_digital = folder / "born_digital.pdf"
    text = samples.text_layer_pdf(
        text_paras, born_digital, title="Договор поставки", scanned_pages=[english_2.image]
    )
    docs["born_digital.pdf"] = Sample(born_digital, f"{text} {english_2.text}", first_page_text=text)
    add("page.bmp", english_2.text, english_2.image.convert("RGB").save)
    chinese = samples.render_page(samples.paragraphs("zh", 4, seed=7), lang="zh")
    add("chinese.png", chinese.text, chinese.image.save)
    return docs


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    """``python -m ocr_task`` in a child process, as a launcher runs it."""
    import subprocess

    return subprocess.run(
        [sys.executable, "-m", "ocr_task", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd or REPO,
        timeout=600,
    )


def read_in_one_batch(folder: Path, names: list[str]) -> dict[str, tuple[str, dict]]:
    """The files ``names`` in ``folder`` read by the CLI in one batch: each one's .txt and JSON, by name."""
    import json

    result = run_cli("run", "--input", *(str(folder / n) for n in names), "--output", str(folder / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    out = folder / "out"
    return {n: ((out / f"{n}.txt").read_text(), json.loads((out / f"{n}.json").read_text())) for n in names}


def backdate(bucket: str, key: str, when) -> None:
    """Set an object's LastModified in the moto server (it runs in this process)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    s3_backends[DEFAULT_ACCOUNT_ID]["global"].buckets[bucket].keys[key].last_modified = when.replace(
        tzinfo=None
    )


@pytest.fixture
def s3(s3_server, monkeypatch):
    """A fresh S3 (moto reset) with the ``docs`` bucket, behind the ``aws_default`` connection."""
    requests.post(f"{s3_server.endpoint}/moto-api/reset", timeout=10)
    client = s3_server.client()
    client.create_bucket(Bucket=DOCS_BUCKET)
    connection = (
        '{"conn_type": "aws", "login": "testing", "password": "testing", '
        f'"extra": {{"endpoint_url": "{s3_server.endpoint}", "region_name": "us-east-1"}}}}'
    )
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", connection)
    return client


@pytest.fixture
def sqlite_catalog(tmp_path, monkeypatch):
    """A new SQLite catalog, migrated, that the deployment's setting (``OCR_CATALOG_URL``) names."""
    from ocr_pipeline.catalog import Catalog

    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    monkeypatch.setenv("OCR_CATALOG_URL", url)
    catalog = Catalog(url)
    catalog.migrate()
    return catalog


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request, tmp_path, monkeypatch):
    """A new, empty catalog: a SQLite file, or a database of its own on the PostgreSQL server."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.db'}"
    else:
        url = new_database()
    monkeypatch.setenv("OCR_CATALOG_URL", url)
    return url
