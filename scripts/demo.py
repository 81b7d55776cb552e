"""The pipeline on this machine with nothing but `make install`: local S3, SQLite catalog, CPU engine.

    python scripts/demo.py            # make demo: run document_ingest once and print the catalog
    python scripts/demo.py --airflow  # make airflow: Airflow standalone (UI on :8080) with the same settings

S3 is moto's server on loopback. Its contents are kept between runs in
.demo/s3/ (loaded at start, saved at the end), so a second run finds
everything already catalogued and processes nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / ".demo"
MIRROR = DEMO / "s3"
BUCKET = "docs"
S3_PORT = int(os.environ.get("OCR_DEMO_S3_PORT", "5055"))

os.environ.update(
    {
        "AIRFLOW_HOME": str(DEMO / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(DEMO / "openlineage.jsonl"), "append": True}
        ),
        "OCR_SOURCE_URI": f"s3://{BUCKET}/incoming/",
        "OCR_OUTPUT_URI": f"s3://{BUCKET}/processed/",
        "OCR_QUARANTINE_URI": f"s3://{BUCKET}/quarantine/",
        "OCR_CATALOG_URL": os.environ.get("OCR_CATALOG_URL", f"sqlite:///{DEMO / 'catalog.db'}"),
        "OCR_LAUNCHER": "local",
        "OCR_ENGINE": os.environ.get("OCR_ENGINE", "auto"),
        "OCR_SENSOR_TIMEOUT": "5",  # nothing new: the run is skipped after this long
        "OCR_SENSOR_POKE_SECONDS": "2",
        "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO), os.environ.get("PYTHONPATH", "")]),
        # `airflow standalone` starts its components as `airflow …` commands: this venv's must be found
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
)
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]


def start_s3(port: int):
    """moto's S3 server on loopback, with the bucket and whatever earlier runs left in .demo/s3/."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per S3 request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "demo",
            "AWS_SECRET_ACCESS_KEY": "demo",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
                {"conn_type": "aws", "login": "demo", "password": "demo",
                 "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"}}
            ),
        }
    )  # fmt: skip
    client = boto3.client("s3", endpoint_url=endpoint)
    client.create_bucket(Bucket=BUCKET)
    for path in sorted((MIRROR / BUCKET).rglob("*")) if (MIRROR / BUCKET).exists() else []:
        if path.is_file():
            client.upload_file(str(path), BUCKET, path.relative_to(MIRROR / BUCKET).as_posix())
    return server, client, endpoint


def save_s3(client) -> None:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for obj in page.get("Contents", []):
            target = MIRROR / BUCKET / obj["Key"]
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(BUCKET, obj["Key"], str(target))


def upload_samples(client) -> None:
    """The sample documents: English and Russian, PDF and images, scanned and born-digital, one corrupt."""
    from tests import samples

    existing = {
        o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix="incoming/").get("Contents", [])
    }
    folder = DEMO / "samples"
    folder.mkdir(parents=True, exist_ok=True)
    invoice = samples.render_page(samples.paragraphs("en", 5, seed=11), title="Invoice 2024-117")
    act = samples.render_page(samples.paragraphs("ru", 5, seed=12), title="Акт сверки расчётов")
    bulletin = samples.render_page(samples.paragraphs("en", 8, seed=13), columns=2, title="Company Bulletin")
    letter = samples.render_page(samples.paragraphs("ru", 4, seed=14), title="Письмо поставщику")
    makers = {
        "scans/invoice_2024-117.pdf": lambda p: samples.image_pdf([invoice.image, samples.scan_like(bulletin.image, 1)], p),
        "scans/акт_сверки.jpg": lambda p: samples.scan_like(act.image, 2).save(p, quality=85),
        "scans/bulletin.png": lambda p: bulletin.image.save(p),
        "scans/letter_sideways.tiff": lambda p: samples.multipage_tiff([samples.turned(letter.image, 90)], p),
        "contracts/договор_поставки.pdf": lambda p: samples.text_layer_pdf(
            samples.paragraphs("ru", 4, seed=15), p, title="Договор поставки № 17"
        ),
        "scans/damaged_upload.pdf": lambda p: p.write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog"),
    }  # fmt: skip
    for name, make in makers.items():
        key = f"incoming/2024-11/{name}"
        if key in existing:
            continue
        path = folder / name.replace("/", "_")
        make(path)
        client.upload_file(str(path), BUCKET, key)


def prepare_airflow() -> None:
    airflow = [sys.executable, "-m", "airflow"]
    quiet = {"check": True, "capture_output": True}
    subprocess.run([*airflow, "db", "migrate"], **quiet)
    subprocess.run(
        [*airflow, "pools", "set", "gpu", "1", "OCR batches (one GPU, or the CPU engine on this host)"],
        **quiet,
    )


def step_lines(dag, dag_run) -> list[str]:
    """One line per step of the run: its state, its time and what it handed on (the typed XCom values)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    from ocr_pipeline.handoffs import CatalogSummary, Discovered, Launched

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=dag_run.run_id)).all()
        values: dict[str, list] = {}
        for row in rows:  # discover's counts as a "task" of their own: what it found (its return: the batches)
            name = row.task_id if row.key == "return_value" else f"{row.task_id}.{row.key}"
            values.setdefault(name, []).append(XComModel.deserialize_value(row))
    tis: dict[str, list] = {}
    for ti in dag_run.get_task_instances():
        tis.setdefault(ti.task_id, []).append(ti)

    def said(task_id: str) -> str:
        got = values.get(task_id, [])
        if task_id == "discover" and values.get("discover.found"):
            d = Discovered.model_validate(values["discover.found"][0])
            planned = values.get("discover", [[]])[0]
            return (f"{d.listed} listed, {d.new} new, {d.claimed} claimed: {sum(b['documents'] for b in planned)} "
                    f"documents in {len(planned)} batch{'es' if len(planned) != 1 else ''}")  # fmt: skip
        if task_id == "ocr" and got:
            done = [Launched.model_validate(v) for v in got]
            seconds = sum((ti.duration or 0) for ti in tis["ocr"])
            pages = sum(d.pages for d in done)
            return f"{sum(d.documents for d in done)} documents, {pages} pages, {pages / max(seconds, 1e-9):.2f} pages/s"
        if task_id == "catalog" and got:
            c = CatalogSummary.model_validate(got[0])
            return f"{c.documents} documents: {c.succeeded} succeeded, {c.failed} failed, {c.low_text} with little text"
        return ""

    lines = []
    for task_id in dag.task_ids:  # in the order the DAG declares them
        instances = tis.get(task_id, [])
        states = "/".join(sorted({str(ti.state) for ti in instances}))
        seconds = sum((ti.duration or 0) for ti in instances)
        lines.append(f"  {task_id:19} {states:8} {seconds:6.1f} s  {said(task_id)}".rstrip())
    return lines


def print_catalog() -> None:
    from ocr_pipeline.catalog import Catalog

    rows = Catalog(os.environ["OCR_CATALOG_URL"]).rows()
    print(f"Catalog: {os.environ['OCR_CATALOG_URL']}; outputs: {MIRROR / BUCKET / 'processed'} (a copy of "
          f"s3://{BUCKET}/processed/, daily manifests in _catalog/); rejected: {MIRROR / BUCKET / 'quarantine'}")  # fmt: skip
    header = f"{'document':44} {'pages':>5}  {'status':9} {'engine':34} output / error"
    print("\n" + header + "\n" + "-" * len(header))
    for row in rows:
        name = row["source_uri"].removeprefix(f"s3://{BUCKET}/incoming/")
        detail = (
            row["text_uri"]
            if row["status"] == "succeeded"
            else f"{row['error']} (quarantined: {row['quarantine_uri']})"
        )
        print(
            f"{name[:44]:44} {row['pages'] or 0:>5}  {row['status']:9} {(row['engine'] or '-')[:34]:34} {detail}"
        )


@contextmanager
def output_to(path: Path):
    """Everything this process and its children print (Airflow's task logs, the OCR step's) goes to ``path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def run_once() -> int:
    from airflow.dag_processing.dagbag import DagBag

    log = DEMO / "demo.log"
    print(f"Starting a local S3 server and uploading the sample documents (full log: {log})")
    with output_to(log):
        server, client, _ = start_s3(0)
    try:
        with output_to(log):
            upload_samples(client)
            prepare_airflow()
            bag = DagBag(dag_folder=str(REPO / "dags" / "document_ingest.py"))
        if bag.import_errors:
            print(bag.import_errors, file=sys.stderr)
            return 1
        print("Running document_ingest with dag.test(): discover (new work? claim it, plan it), OCR, catalogue ...")
        with output_to(log):
            dag = bag.dags["document_ingest"]
            dag_run = dag.test()
        save_s3(client)
    finally:
        server.stop()
    print(f"\ndocument_ingest run {dag_run.run_id}: {dag_run.state}")
    print("\n".join(step_lines(dag, dag_run)))
    if {str(ti.state) for ti in dag_run.get_task_instances() if ti.task_id == "ocr"} <= {"skipped"}:
        print("Nothing new to process: every document is already in the catalog with the same ETag.")
    print_catalog()
    return 0 if str(dag_run.state) == "success" else 1


def run_airflow() -> int:
    """Airflow standalone with the same settings; S3 stays up on a fixed port while it runs."""
    server, client, endpoint = start_s3(S3_PORT)
    try:
        upload_samples(client)
        prepare_airflow()
        print(
            f"S3 (moto) at {endpoint}, bucket {BUCKET}; UI at http://localhost:8080 (user admin, password printed below)"
        )
        print("Trigger document_ingest with 'Trigger DAG' to get the form. Stop with Ctrl-C.")
        return subprocess.run([sys.executable, "-m", "airflow", "standalone"]).returncode
    except KeyboardInterrupt:
        return 0
    finally:
        save_s3(client)
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--airflow", action="store_true", help="start Airflow standalone instead of one run")
    args = parser.parse_args()
    DEMO.mkdir(exist_ok=True)
    return run_airflow() if args.airflow else run_once()


if __name__ == "__main__":
    sys.exit(main())
