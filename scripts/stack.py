"""A real distributed Airflow on this machine: the CeleryExecutor on the local Redis, metadata and catalog
on the local PostgreSQL, each component in its own process, and a local S3 server.

    python scripts/stack.py up      # make stack: start it, print the UI address and login
    python scripts/stack.py down    # make stack-down: stop exactly what `up` started
    python scripts/stack.py status  # which of its processes are alive

The system tests start the same stack (``tests/system``) with their own home,
ports, databases and Redis database, so both can run side by side.

Started here: api-server, scheduler, dag-processor, triggerer, a Celery
worker, an OpenLineage consumer (``scripts/lineage_recorder.py``: every
event over the HTTP transport, into ``lineage/events.jsonl``) and (unless an
S3 endpoint is given) moto's S3 server. Used, never
stopped: the machine's PostgreSQL and Redis (``scripts/ensure_services.sh``
starts them when they are down).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

REPO = Path(__file__).resolve().parent.parent
POSTGRES = "postgresql+psycopg2://postgres@127.0.0.1:5432"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer", "worker")


@dataclass
class Stack:
    """One deployment: its folder (``home``), ports, databases and the settings the pipeline runs with."""

    home: Path = REPO / ".stack"
    bucket: str = "docs"
    api_port: int = 8080
    s3_port: int = 5056
    lineage_port: int = 5057
    lineage_namespace: str = "ocr-ingest"  # the OpenLineage namespace of this deployment's jobs
    s3_endpoint: str | None = None  # an S3 server that is already running (the tests bring their own)
    database_prefix: str = "ocr_stack"
    redis_db: int = 0
    user: str = "admin"
    viewer: str = "viewer"  # a read-only user: sees the DAGs and the Documents view, triggers nothing
    settings: dict[str, str] = field(default_factory=dict)  # OCR_* and AIRFLOW__* over the defaults
    worker_concurrency: int = 4
    # event mode: an SQS queue on the S3 server that the bucket notifies of new objects under the source
    # prefix (OCR_EVENT_QUEUE_URL points the DAG at it); None: the schedule alone
    event_queue: str | None = "docs-created"
    # more sources beside the default one (ocr_pipeline.sources): name → settings, with ``event_queue`` (a
    # queue's name, made and wired as above) in place of ``event_queue_url``; written to a sources file
    sources: dict[str, dict] = field(default_factory=dict)

    # ---- names -------------------------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def metadata_url(self) -> str:
        return f"{POSTGRES}/{self.database_prefix}_airflow"

    @property
    def catalog_url(self) -> str:
        return f"{POSTGRES}/{self.database_prefix}_catalog"

    @property
    def endpoint(self) -> str:
        return self.s3_endpoint or f"http://127.0.0.1:{self.s3_port}"

    @property
    def lineage_events_file(self) -> Path:
        return self.home / "lineage" / "events.jsonl"

    def lineage_events(self) -> list[dict]:
        """Every OpenLineage event the consumer received, in order."""
        if not self.lineage_events_file.exists():
            return []
        return [json.loads(line) for line in self.lineage_events_file.read_text().splitlines() if line]

    @property
    def password(self) -> str:
        return self.password_of(self.user)

    def password_of(self, user: str) -> str:
        return json.loads((self.home / "passwords.json").read_text())[user]

    def _secret(self, name: str) -> str:
        """A secret kept in the stack's folder, so every component and every restart shares it."""
        path = self.home / "secrets" / name
        if not path.exists():
            from cryptography.fernet import Fernet

            path.parent.mkdir(parents=True, exist_ok=True)
            # 64 bytes: Airflow signs JWTs with HMAC-SHA512 and warns of a shorter key (RFC 7518, 3.2)
            path.write_text(Fernet.generate_key().decode() if name == "fernet" else secrets.token_urlsafe(64))
        return path.read_text()

    def environment(self) -> dict[str, str]:
        """What every component runs with: Airflow's configuration and the pipeline's settings."""
        connection = {
            "conn_type": "aws", "login": "stack", "password": "stack",
            "extra": {"endpoint_url": self.endpoint, "region_name": "us-east-1"},
        }  # fmt: skip
        env = {
            "AIRFLOW_HOME": str(self.home / "airflow"),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{self.user}:admin,{self.viewer}:viewer",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            "AIRFLOW__CORE__FERNET_KEY": self._secret("fernet"),
            "AIRFLOW__API__SECRET_KEY": self._secret("api"),
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": self.api_url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": self._secret("jwt"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_url,
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:6379/{self.redis_db}",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{self.metadata_url}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
            # Airflow's Celery configuration, and the DAG file's imports done once per worker (not per task)
            "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": "ocr_pipeline.celery_config.CELERY_CONFIG",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs" / "tasks"),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection),
            # lineage to the consumer on loopback, as to Marquez: the HTTP transport with an API key
            "AIRFLOW__OPENLINEAGE__NAMESPACE": self.lineage_namespace,
            "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({
                "type": "http", "url": f"http://127.0.0.1:{self.lineage_port}", "endpoint": "api/v1/lineage",
                "timeout": 5, "auth": {"type": "api_key", "apiKey": self._secret("lineage")},
            }),  # fmt: skip
            "OCR_SOURCE_URI": f"s3://{self.bucket}/incoming/",
            "OCR_OUTPUT_URI": f"s3://{self.bucket}/processed/",
            "OCR_QUARANTINE_URI": f"s3://{self.bucket}/quarantine/",
            "OCR_CATALOG_URL": self.catalog_url,
            "OCR_LAUNCHER": "local",
            "OCR_WORKERS": "1",
            "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)]),
            # `airflow` starts sub-processes as `airflow …`: this environment's must be found first
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            **self.settings,
        }
        # nothing of the calling shell's Airflow or pipeline configuration leaks in: the stack is what it says
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "OCR_"))}
        return {**inherited, **env}

    # ---- lifecycle -----------------------------------------------------------------------------------------
    def up(self, timeout: float = 240) -> None:
        """Start everything (idempotent per component) and wait until the API answers and a worker is up."""
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "logs").mkdir(exist_ok=True)
        subprocess.run([str(REPO / "scripts" / "ensure_services.sh")], check=True)
        passwords = self.home / "passwords.json"
        if not passwords.exists():
            passwords.write_text(json.dumps({u: secrets.token_urlsafe(12) for u in (self.user, self.viewer)}))
        self._create_databases()
        if self.s3_endpoint is None:
            self._start("s3", [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(self.s3_port)])
            _wait_http(f"{self.endpoint}/moto-api/", timeout=60)
        self._s3_bucket(self.bucket)
        self._wire_sources()
        self._secret("lineage")
        self._start("lineage", [
            sys.executable, str(REPO / "scripts" / "lineage_recorder.py"), "--port", str(self.lineage_port),
            "--out", str(self.lineage_events_file), "--key-file", str(self.home / "secrets" / "lineage"),
        ])  # fmt: skip
        _wait_http(f"http://127.0.0.1:{self.lineage_port}/health", timeout=30)
        self._airflow("db", "migrate")
        self._airflow("pools", "set", "gpu", "1", "OCR batches (one GPU, or the CPU engine on this host)")
        sys.path[:0] = [str(REPO / "plugins"), str(REPO)]
        from ocr_pipeline.catalog import Catalog

        Catalog(self.catalog_url).migrate()  # the catalog's schema, as the pipeline migrates it
        for component in COMPONENTS:
            self.start_component(component)
        self.wait_for_api(timeout)
        self._wait_for_worker(timeout)

    def wait_for_api(self, timeout: float = 240) -> None:
        _wait_http(f"{self.api_url}/api/v2/monitor/health", timeout=timeout)

    def start_component(self, component: str) -> None:
        command = {
            # one machine, one log folder: the api-server reads task logs from disk, so the worker and the
            # triggerer need no log servers of their own (no more ports open)
            "worker": ["celery", "worker", "--concurrency", str(self.worker_concurrency), "--skip-serve-logs"],
            "triggerer": ["triggerer", "--skip-serve-logs"],
            "api-server": ["api-server", "--host", "127.0.0.1", "--port", str(self.api_port)],
        }.get(component, [component])
        # supervised, as compose (restart: always) and systemd run them: a component that exits is started again
        supervisor = [sys.executable, str(REPO / "scripts" / "supervise.py")]
        self._start(component, [*supervisor, str(Path(sys.executable).parent / "airflow"), *command])

    def down(self) -> list[str]:
        """Stop every process ``up`` started (with its children), and nothing else: all at once (each takes
        seconds to stop; one after the other they took 20 s)."""
        return self.kill_components([*COMPONENTS, "lineage", "s3"], signal.SIGTERM)

    def kill_component(self, name: str, sig: int = signal.SIGKILL) -> bool:
        """Signal a component and every process below it (task processes sit in process groups of their own)."""
        return bool(self.kill_components([name], sig))

    def kill_components(self, names, sig: int = signal.SIGKILL) -> list[str]:
        """Signal each of ``names`` and every process below it, wait up to 20 s for them all, then kill what
        is left; returns the names of those that were running."""
        families, signalled = [], []
        for name in names:
            pid_file = self.home / "pids" / f"{name}.pid"
            if not pid_file.exists():
                continue
            process = _process(int(pid_file.read_text()))
            pid_file.unlink()
            if process is not None:
                families.append(process)
                signalled.append(name)
        for member in _signal_family(families, sig):
            member.kill()  # still alive after 20 s
        return signalled

    def kill_process(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Signal a component's own process (and what it started), not its supervisor, which starts it again
        as compose or systemd would. Returns the pid signalled."""
        (process,) = self._supervisor(name).children()
        _signal_family([process], sig)
        return process.pid

    def component_pid(self, name: str) -> int | None:
        """The pid of a component's own process under its supervisor (None while it is being started again)."""
        supervisor = self._supervisor(name)
        children = [c for c in supervisor.children() if c.status() != psutil.STATUS_ZOMBIE] if supervisor else []
        return children[0].pid if children else None

    def _supervisor(self, name: str):
        """A component's supervisor process (``scripts/supervise.py``), from its pid file."""
        return _process(int((self.home / "pids" / f"{name}.pid").read_text()))

    def status(self) -> dict[str, bool]:
        result = {}
        for name in (*COMPONENTS, "lineage", "s3"):
            pid_file = self.home / "pids" / f"{name}.pid"
            result[name] = pid_file.exists() and _process(int(pid_file.read_text())) is not None
        return result

    # ---- helpers -------------------------------------------------------------------------------------------
    def _start(self, name: str, command: list[str]) -> None:
        pids = self.home / "pids"
        pids.mkdir(exist_ok=True)
        pid_file = pids / f"{name}.pid"
        if pid_file.exists() and _process(int(pid_file.read_text())) is not None:
            return
        log = open(self.home / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=self.environment(), cwd=REPO,
            start_new_session=True,
        )  # fmt: skip
        pid_file.write_text(str(process.pid))

    def _airflow(self, *args: str) -> None:
        result = subprocess.run(
            [str(Path(sys.executable).parent / "airflow"), *args],
            env=self.environment(), capture_output=True, text=True, cwd=REPO,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")

    def _create_databases(self) -> None:
        from sqlalchemy import create_engine, text

        engine = create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            existing = {row[0] for row in connection.execute(text("SELECT datname FROM pg_database"))}
            for url in (self.metadata_url, self.catalog_url):
                name = url.rsplit("/", 1)[1]
                if name not in existing:
                    connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()

    def flush_broker(self) -> None:
        """Empty the Celery broker's Redis database: messages an aborted run left there carry another
        deployment's task tokens, and its workers would take them first ("Invalid auth token")."""
        import redis

        redis.Redis(host="127.0.0.1", port=6379, db=self.redis_db).flushdb()

    def drop_databases(self) -> None:
        from sqlalchemy import create_engine, text

        engine = create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            for url in (self.metadata_url, self.catalog_url):
                connection.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
        engine.dispose()

    def _s3_bucket(self, name: str) -> None:
        import boto3

        client = boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id="stack", aws_secret_access_key="stack",
        )  # fmt: skip
        try:
            client.create_bucket(Bucket=name)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass

    def _wire_sources(self) -> None:
        """Each source's queue, and the bucket's notifications to them, as a real bucket is wired (README,
        event mode); the sources file when there are sources beside the default one."""
        import boto3
        import yaml

        keys = {"region_name": "us-east-1", "aws_access_key_id": "stack", "aws_secret_access_key": "stack"}
        sqs = boto3.client("sqs", endpoint_url=self.endpoint, **keys)
        notified = []  # the bucket's one notification configuration: every source's queue in it

        def queue(name: str, source_uri: str) -> str:
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            prefix = source_uri.removeprefix(f"s3://{self.bucket}/")
            notified.append({
                "QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}},
            })  # fmt: skip
            return url

        if self.event_queue and "OCR_EVENT_QUEUE_URL" not in self.settings:
            self.settings["OCR_EVENT_QUEUE_URL"] = queue(self.event_queue, self.environment()["OCR_SOURCE_URI"])
        declared = {"default": {}}
        for name, entry in self.sources.items():
            entry = dict(entry)
            if entry.get("event_queue"):
                entry["event_queue_url"] = queue(entry.pop("event_queue"), entry["source_uri"])
            declared[name] = entry
        if notified:
            boto3.client("s3", endpoint_url=self.endpoint, **keys).put_bucket_notification_configuration(
                Bucket=self.bucket, NotificationConfiguration={"QueueConfigurations": notified}
            )
        if self.sources:
            path = self.home / "sources.yaml"
            path.write_text(yaml.safe_dump(declared, sort_keys=False))
            self.settings["OCR_SOURCES_FILE"] = str(path)

    def _wait_for_worker(self, timeout: float) -> None:
        """A Celery worker is up once it says it is ready in its log."""
        deadline = time.monotonic() + timeout
        log = self.home / "logs" / "worker.log"
        while time.monotonic() < deadline:
            if log.exists() and b"ready." in log.read_bytes()[-20000:]:
                return
            time.sleep(1)
        raise TimeoutError(f"the Celery worker did not become ready; see {log}")


def _signal_family(processes: list, sig: int) -> list:
    """Signal each process and every process below it; wait up to 20 s; return those still alive."""
    family = [member for process in processes for member in (process, *process.children(recursive=True))]
    for member in family:
        try:
            member.send_signal(sig)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(family, timeout=20)
    return alive


def _process(pid: int):
    try:
        process = psutil.Process(pid)
        return None if process.status() == psutil.STATUS_ZOMBIE else process
    except psutil.NoSuchProcess:
        return None


def _wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=5).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["up", "down", "status"])
    args = parser.parse_args()
    stack = Stack(
        api_port=int(os.environ.get("STACK_API_PORT", "8080")),
        s3_port=int(os.environ.get("STACK_S3_PORT", "5056")),
        lineage_port=int(os.environ.get("STACK_LINEAGE_PORT", "5057")),
        settings={k: v for k, v in os.environ.items() if k.startswith("OCR_") and k != "OCR_CATALOG_URL"},
    )
    if args.action == "up":
        stack.up()
        print(f"Airflow (CeleryExecutor) is up: {stack.api_url}  user {stack.user}, password {stack.password}"
              f" (read-only: {stack.viewer}, {stack.password_of(stack.viewer)})")
        print(f"Documents view: {stack.api_url}/plugin/documents")
        print(f"S3: {stack.endpoint} (bucket docs; drop documents under s3://docs/incoming/)")
        if stack.settings.get("OCR_EVENT_QUEUE_URL"):
            print(f"Event mode: the bucket notifies {stack.settings['OCR_EVENT_QUEUE_URL']} of new objects")
        print(f"Catalog: {stack.catalog_url}; metadata: {stack.metadata_url}; broker: redis db {stack.redis_db}")
        print(f"OpenLineage: HTTP transport to 127.0.0.1:{stack.lineage_port} (namespace {stack.lineage_namespace});"
              f" events in {stack.lineage_events_file}")
        print(f"Logs: {stack.home / 'logs'}. Stop with: make stack-down")
    elif args.action == "down":
        stopped = stack.down()
        print("Stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    else:
        for name, alive in stack.status().items():
            print(f"{name:14} {'running' if alive else 'stopped'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
