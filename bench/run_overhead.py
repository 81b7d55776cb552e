"""A run's fixed cost: ``airflow dags test document_ingest`` against the OCR step's CLI alone, on the same
one-page scans in a local S3 server.

    .venv/bin/python bench/run_overhead.py [--documents 100] [--batch-sizes 100,20] [--deployed [--set NAME=VALUE]]

The CLI reads every document under the prefix in one batch (``python -m ocr_task run --input s3://…/``);
each DAG run (a fresh catalog each time, the ``local`` launcher, the CPU engine) takes the same documents
with the given batch size. Both are timed as a user times them: the command's wall time, process start-up
included (not Airflow's one-off ``db migrate``). Prints the seconds, the ratio, and the per-run fixed cost
(the DAG's time less the CLI's, with one batch).

``--deployed`` measures a run as a deployment makes it instead: the Celery deployment of ``make stack``
(its own folder, databases and ports; the OCR step with its default workers), the DAG unpaused and its
first scheduled run over, the components' CPU while idle printed; then, per batch size, a manual run through
the REST API (``reprocess`` after the first), timed from the run's creation (``queued_at``) to its end, each
task's time from the API, with the CLI alone on the same documents (the deployment idle beside it) before
the first run and after each: each run is set against the CLI before it and the mean of the two around it.
``--set NAME=VALUE`` changes the deployment's environment (e.g. an ``AIRFLOW__…`` option).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "plugins")]

from tests import samples  # noqa: E402
from tests.conftest import start_s3_server  # noqa: E402

BUCKET = "docs"


def upload(client, count: int, folder: Path) -> None:
    for n in range(count):
        page = samples.render_page(samples.paragraphs("en", 2, seed=100 + n), title=f"Invoice {n}")
        path = folder / f"scan-{n:03}.jpg"
        samples.scan_like(page.image, seed=n).save(path, quality=85)
        client.upload_file(str(path), BUCKET, f"incoming/{path.name}")


def timed(command: list[str], env: dict[str, str], log: Path | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=REPO)
    seconds = time.perf_counter() - started
    if log is not None:
        log.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"{command[:4]} failed: {done.stderr[-2000:]}")
    return seconds


def print_task_times(metadata_db: Path) -> None:
    """Each task of the latest run, as Airflow recorded it: where a run's time goes outside the OCR step."""
    import sqlite3

    with sqlite3.connect(metadata_db) as db:
        (run_id,) = db.execute("SELECT run_id FROM dag_run ORDER BY id DESC LIMIT 1").fetchone()
        tasks = db.execute(
            "SELECT task_id, map_index, start_date, end_date, duration FROM task_instance WHERE run_id = ? "
            "ORDER BY start_date", (run_id,),
        ).fetchall()  # fmt: skip
    for task_id, map_index, start, end, duration in tasks:
        name = task_id if map_index < 0 else f"{task_id}[{map_index}]"
        print(f"    {name:14s} {duration or 0:6.1f} s  ({start} → {end})")


def idle_cpu(stack, seconds: float = 30) -> None:
    """Each Airflow component's CPU while the deployment waits for work (the price of a shorter scheduler loop)."""
    with CpuSampler(stack) as cpu:
        time.sleep(seconds)
    print(f"idle, CPU: {cpu.report(seconds)}")


class CpuSampler:
    """Where the CPU goes while something runs: each component's processes, and the OCR step's own (any
    process running ``ocr_task``, wherever it started), sampled twice a second.

    A process's CPU is its last sample, so one that lives less than a sample is missed and each loses at
    most half a second: good enough to see which process takes cores from the OCR step.
    """

    def __init__(self, stack):
        import threading

        self.stack, self.last, self.kind = stack, {}, {}
        self.baseline: dict[int, float] | None = None  # processes already running: their CPU before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        import psutil

        from scripts.stack import COMPONENTS

        while not self._stop.is_set():
            for name in COMPONENTS:
                pid = self.stack.component_pid(name)
                try:
                    top = psutil.Process(pid) if pid else None
                    family = (top, *top.children(recursive=True)) if top else ()
                except psutil.NoSuchProcess:
                    family = ()
                for process in family:  # a task's supervisor and runner are named by their titles
                    self._record(process, name, titled=process is not top)
            for process in psutil.process_iter():  # the CLI (and its workers) run outside the deployment
                self._record(process, None)
            if self.baseline is None:
                self.baseline = dict(self.last)
            self._stop.wait(0.5)

    def _record(self, process, component: str | None, titled: bool = False) -> None:
        """Note the process's CPU under its kind: the OCR step's, else its component's (None: not sampled;
        ``titled``: a component's child, named by its title as well)."""
        import psutil

        try:  # a process may end (or be a zombie) between any two of these calls
            if process.pid not in self.kind:
                ocr = any("ocr_task" in part for part in process.cmdline())
                title = f"{component} ({' '.join(process.cmdline())[:40]})" if titled else component
                self.kind[process.pid] = "OCR step" if ocr else title
            if self.kind[process.pid] is not None:
                self.last[process.pid] = sum(process.cpu_times()[:2])
        except psutil.Error:
            pass

    def report(self, seconds: float) -> str:
        used: dict[str, float] = {}
        for pid, cpu in self.last.items():
            used[self.kind[pid]] = used.get(self.kind[pid], 0) + cpu - (self.baseline or {}).get(pid, 0)
        return ", ".join(f"{kind} {cpu:.1f} s ({cpu / seconds:.0%} of a core)" for kind, cpu in sorted(used.items()))


def deployed(documents: int, batch_sizes: list[int | None], logs: Path | None, settings: dict[str, str]) -> None:
    from scripts.stack import Stack
    from tests.network import free_port
    from tests.system.airflow_api import AirflowApi

    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        stack = Stack(
            home=work / "stack", api_port=free_port(), s3_port=free_port(), lineage_port=free_port(),
            database_prefix="ocr_overhead", redis_db=7, event_queue=None, settings={"OCR_WORKERS": "0", **settings},
        )  # fmt: skip
        stack.drop_databases()
        stack.up()
        try:
            api = AirflowApi(stack.api_url, stack.user, stack.password)
            api.wait_for_dag()
            api.pause(False)  # the scheduler makes the latest interval's run at once: let it end, on nothing
            first = api.wait_for_new_run(set(), "scheduled")
            api.wait_for_run(first.dag_run_id)
            idle_cpu(stack)
            import boto3

            client = boto3.client("s3", endpoint_url=stack.endpoint, region_name="us-east-1",
                                  aws_access_key_id="stack", aws_secret_access_key="stack")  # fmt: skip
            (work / "scans").mkdir()
            upload(client, documents, work / "scans")
            env = {**stack.environment(), "AWS_ACCESS_KEY_ID": "stack", "AWS_SECRET_ACCESS_KEY": "stack",
                   "AWS_ENDPOINT_URL": stack.endpoint, "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
            def cli_alone(n: int) -> float:
                with CpuSampler(stack) as cpu:
                    cli = timed([sys.executable, "-m", "ocr_task", "run", "--input", f"s3://{stack.bucket}/incoming/",
                                 "--output", f"s3://{stack.bucket}/cli/"], env,
                                logs / f"cli-{n}.log" if logs else None)  # fmt: skip
                print(f"CLI alone: {documents} documents in {cli:.1f} s (the deployment idle beside it)")
                print(f"    CPU meanwhile: {cpu.report(cli)}")
                return cli

            # The CLI before each run and once after the last: the VM's speed drifts between runs by more than a
            # run's fixed cost, so each run is set against the CLIs on either side of it as well.
            clis = [cli_alone(0)]
            ratios: dict[int | None, list[float]] = {}
            bracketed: dict[int | None, list[float]] = {}
            for n, size in enumerate(batch_sizes):
                with CpuSampler(stack) as cpu:
                    run_id = api.trigger({"reprocess": n > 0} | ({} if size is None else {"batch_size": size}))
                    state = api.wait_for_run(run_id, timeout=1800)
                run = api.run(run_id)
                seconds = (run.end_date - run.queued_at).total_seconds()
                cli = clis[-1]
                ratios.setdefault(size, []).append(seconds / cli)
                print(f"deployed run, batches of {size or 'the default'}: {state}, {seconds:.1f} s from its creation to its end, "
                      f"{seconds / cli:.2f}× the CLI before it; fixed cost {seconds - cli:+.1f} s")  # fmt: skip
                instances = sorted(api.task_instances_of(run_id), key=lambda t: t.start_date or run.end_date)
                print(f"    run created → started {(run.start_date - run.queued_at).total_seconds():.1f} s, "
                      f"→ first task started {(instances[0].start_date - run.queued_at).total_seconds():.1f} s; "
                      f"last task ended → run ended {(run.end_date - max(t.end_date for t in instances if t.end_date)).total_seconds():.1f} s")  # fmt: skip
                for ti in instances:
                    name = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
                    wait = (ti.start_date - ti.queued_when).total_seconds() if ti.queued_when and ti.start_date else 0
                    print(f"    {name:14s} {ti.duration or 0:6.1f} s, {wait:4.1f} s queued  "
                          f"({ti.start_date} → {ti.end_date})")  # fmt: skip
                ocr = sum(ti.duration or 0 for ti in instances if ti.task_id == "ocr")
                print(f"    CPU meanwhile: {cpu.report(seconds)}")
                print(f"    outside the OCR tasks: {seconds - ocr:.1f} s; the run is {seconds / ocr:.2f}× its OCR tasks")
                clis.append(cli_alone(n + 1))
                around = statistics.mean(clis[-2:])
                bracketed.setdefault(size, []).append(seconds / around)
                print(f"    the CLIs before and after it: {clis[-2]:.1f}, {clis[-1]:.1f} s; the run is {seconds / around:.2f}× their mean")
            for size, measured in ratios.items():
                print(f"batches of {size or 'the default'}: median {statistics.median(measured):.2f}× the CLI before each run, "
                      f"{statistics.median(bracketed[size]):.2f}× the mean of the CLIs around each, over {len(measured)} runs")  # fmt: skip
        finally:
            stack.down()
            stack.drop_databases()
            if logs:
                import shutil

                shutil.copytree(stack.home / "logs", logs, dirs_exist_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=100)
    parser.add_argument("--batch-sizes", default="100,20", help="--deployed: 'default' for the deployment's own")
    parser.add_argument("--logs", type=Path, help="a folder for each `airflow dags test` run's output (--deployed: the deployment's logs)")
    parser.add_argument("--deployed", action="store_true", help="runs of the Celery deployment (make stack)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="--deployed: a setting of the deployment's environment, e.g. an AIRFLOW__… option")
    args = parser.parse_args()
    if args.logs:
        args.logs.mkdir(parents=True, exist_ok=True)
    if args.deployed:
        settings = dict(item.split("=", 1) for item in args.set)
        sizes = [None if s == "default" else int(s) for s in args.batch_sizes.split(",")]
        return deployed(args.documents, sizes, args.logs, settings)
    server, s3 = start_s3_server()
    try:
        client = s3.client()
        client.create_bucket(Bucket=BUCKET)
        with tempfile.TemporaryDirectory() as scratch:
            work = Path(scratch)
            (work / "scans").mkdir()
            upload(client, args.documents, work / "scans")
            env = {**os.environ, **s3.env, "OCR_ENGINE": "auto"}
            python = sys.executable
            cli = timed([python, "-m", "ocr_task", "run", "--input", f"s3://{BUCKET}/incoming/",
                         "--output", f"s3://{BUCKET}/cli/"], env)  # fmt: skip
            print(f"CLI alone: {args.documents} documents in {cli:.1f} s")
            airflow_env = {
                **env,
                "AIRFLOW_HOME": str(work / "airflow"),
                "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW_CONN_AWS_DEFAULT": json.dumps({"conn_type": "aws", "login": "testing", "password": "testing",
                                                        "extra": {"endpoint_url": s3.endpoint, "region_name": "us-east-1"}}),
                "OCR_SOURCE_URI": f"s3://{BUCKET}/incoming/", "OCR_QUARANTINE_URI": f"s3://{BUCKET}/quarantine/",
                "OCR_LAUNCHER": "local",
                "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)]),
                "PATH": os.pathsep.join([str(Path(python).parent), os.environ.get("PATH", "")]),
            }  # fmt: skip
            airflow = [python, "-m", "airflow"]
            subprocess.run([*airflow, "db", "migrate"], env=airflow_env, capture_output=True, check=True)
            subprocess.run([*airflow, "pools", "set", "gpu", "1", "OCR"], env=airflow_env, capture_output=True, check=True)
            for size in (int(s) for s in args.batch_sizes.split(",")):
                run_env = {**airflow_env, "OCR_BATCH_SIZE": str(size), "OCR_MAX_BATCHES": str(max(1, -(-args.documents // size))),
                           "OCR_OUTPUT_URI": f"s3://{BUCKET}/dag-{size}/",
                           "OCR_CATALOG_URL": f"sqlite:///{work / f'catalog-{size}.db'}"}  # fmt: skip
                log = args.logs / f"dags-test-{size}.log" if args.logs else None
                seconds = timed([*airflow, "dags", "test", "document_ingest"], run_env, log)
                rows = subprocess.run(
                    [python, "-c", "import sys; from ocr_pipeline.catalog import Catalog; "
                     "print(sum(r['status'] == 'succeeded' for r in Catalog(sys.argv[1]).rows()))", run_env["OCR_CATALOG_URL"]],
                    env=run_env, capture_output=True, text=True, check=True,
                ).stdout.strip()  # fmt: skip
                print(f"airflow dags test, batches of {size}: {seconds:.1f} s ({rows} catalogued), "
                      f"{seconds / cli:.2f}× the CLI; fixed cost {seconds - cli:+.1f} s")  # fmt: skip
                print_task_times(work / "airflow" / "airflow.db")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
