"""The compose file and the images, checked without a Docker engine: structure, GPU requests, names the code reads."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ocr_pipeline.launchers import load_launcher
from ocr_pipeline.notifications_bridge import BridgeSettings
from ocr_pipeline.settings import DagShapeSettings, LauncherSettings, PipelineSettings, ViewSettings
from ocr_task.config import OcrSettings, VlSettings
from ocr_task.service.settings import ServiceSettings

REPO = Path(__file__).resolve().parent.parent
DOCKERFILES = ["docker/ocr-task/Dockerfile", "docker/ocr-task/Dockerfile.cpu", "docker/airflow/Dockerfile"]
LONG_RUNNING = {
    "postgres", "redis", "minio", "ocr-service", "vlm", "airflow-apiserver", "airflow-scheduler",
    "airflow-dag-processor", "airflow-worker", "airflow-triggerer", "elasticmq", "notifications-bridge",
}  # fmt: skip


class _ComposeLoader(yaml.SafeLoader):
    """YAML with compose's ``!reset`` and ``!override`` tags."""


def _tagged(loader, _suffix, node):
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_ComposeLoader.add_multi_constructor("!", _tagged)


def load(name: str) -> dict:
    return yaml.load((REPO / name).read_text(), Loader=_ComposeLoader)


@pytest.fixture(scope="module")
def compose() -> dict:
    return load("docker-compose.yaml")


def _gpu_devices(service: dict) -> list[dict]:
    return service.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])


def test_every_service_the_stack_needs_is_there(compose):
    assert set(compose["services"]) == LONG_RUNNING | {"minio-init", "airflow-init"}
    assert compose["services"]["vlm"]["profiles"] == ["vllm"]


def test_builds_point_at_files_that_exist_and_images_are_pinned(compose):
    for name, service in compose["services"].items():
        if "build" in service:
            assert (REPO / service["build"]["context"] / service["build"]["dockerfile"]).is_file(), name
        else:
            assert re.search(r":[\w.${}:-]+$", service["image"]) and not service["image"].endswith(
                ":latest"
            ), name
    for dockerfile in DOCKERFILES:
        for line in (REPO / dockerfile).read_text().splitlines():
            if line.startswith("COPY ") and "--from=" not in line:
                for source in line.split()[1:-1]:
                    if not source.startswith("--"):
                        assert (REPO / source).exists(), f"{dockerfile}: {source}"


def test_gpu_is_reserved_for_the_ocr_service_and_the_vlm_server(compose):
    for name in ("ocr-service", "vlm"):
        (device,) = _gpu_devices(compose["services"][name])
        assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert "BAKE_MODELS" in compose["services"]["ocr-service"]["build"]["args"]


def test_health_checks_and_start_order(compose):
    services = compose["services"]
    for name in LONG_RUNNING:
        assert "healthcheck" in services[name], name
    for name in (
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-worker",
        "airflow-triggerer",
    ):
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["airflow-init"]["condition"] == "service_completed_successfully"
    assert services["airflow-worker"]["depends_on"]["ocr-service"]["condition"] == "service_healthy"
    assert services["ocr-service"]["depends_on"]["minio"]["condition"] == "service_healthy"
    assert services["ocr-service"]["depends_on"]["vlm"] == {"condition": "service_healthy", "required": False}
    assert "/ready" in " ".join(services["ocr-service"]["healthcheck"]["test"])  # readiness, not liveness


def _names_the_code_reads() -> set[str]:
    names = {f"OCR_{f.upper()}" for f in OcrSettings.model_fields if f != "vl"}
    names |= {f"OCR_VL_{f.upper()}" for f in VlSettings.model_fields}
    names |= {f"OCR_SERVICE_{f.upper()}" for f in ServiceSettings.model_fields}
    for settings in (PipelineSettings, DagShapeSettings, LauncherSettings):
        names |= {f"OCR_{f.upper()}" for f in settings.model_fields}
    names |= {f"OCR_VIEW_{f.upper()}" for f in ViewSettings.model_fields}
    names |= {f"OCR_BRIDGE_{f.upper()}" for f in BridgeSettings.model_fields}
    for source in [REPO / "dags" / "document_ingest.py", *(REPO / "plugins" / "ocr_pipeline" / "launchers").glob("*.py")]:
        names |= set(re.findall(r'"(OCR_[A-Z_]+)"', source.read_text()))
    return names


def test_environment_names_are_ones_the_code_reads(compose):
    known = _names_the_code_reads()
    for name, service in compose["services"].items():
        for variable in service.get("environment", {}):
            if variable.startswith("OCR_"):
                assert variable in known, f"{name}: {variable} is read by nothing"


def test_neither_deployment_shortens_the_schedulers_idle_sleep(compose, tmp_path):
    """Airflow's default (1 s) in both: a shorter sleep saves 2 s of a run's gaps but its busier loop takes a
    tenth of a core from the OCR task running meanwhile (README, "A run's fixed cost")."""
    from scripts.stack import Stack

    name = "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME"
    assert name not in Stack(home=tmp_path).environment() and name not in compose["x-airflow-common"]["environment"]


def test_the_pipeline_reaches_what_init_creates(compose):
    init = "\n".join(compose["services"]["airflow-init"]["command"])
    assert "airflow pools set gpu" in init
    assert "connections add aws_default" in init and '"endpoint_url": "http://minio:9000"' in init
    assert f"connections add {load_launcher('service').deployment_arguments()['http_conn_id']}" in init
    assert "Catalog(os.environ['OCR_CATALOG_URL']).migrate()" in init
    env = compose["x-airflow-common"]["environment"]
    assert env["OCR_LAUNCHER"] == "service"
    assert env["OCR_CATALOG_URL"].endswith("/ocr_catalog")
    assert "CREATE DATABASE ocr_catalog" in (REPO / "docker/postgres/init-catalog.sql").read_text()
    service_env = compose["services"]["ocr-service"]["environment"]
    assert (
        service_env["AWS_ENDPOINT_URL"] == "http://minio:9000"
        and service_env["OCR_VL_MODELS_HOME"] == "/models"
    )


def test_the_ocr_service_asks_for_the_token_airflow_sends_and_allows_only_the_pipelines_storage(compose):
    service = compose["services"]["ocr-service"]
    assert service["environment"]["OCR_SERVICE_TOKEN"].startswith("${OCR_SERVICE_TOKEN:?")
    init = "\n".join(compose["services"]["airflow-init"]["command"])
    assert '"password": "${OCR_SERVICE_TOKEN}"' in init
    read = service["environment"]["OCR_SERVICE_READ_PREFIXES"].split(",")
    write = service["environment"]["OCR_SERVICE_WRITE_PREFIXES"].split(",")
    pipeline = compose["x-airflow-common"]["environment"]
    assert any(pipeline["OCR_SOURCE_URI"].startswith(prefix) for prefix in read)
    assert any(pipeline["OCR_OUTPUT_URI"].startswith(prefix) for prefix in write)
    assert not any(pipeline["OCR_SOURCE_URI"].startswith(prefix) for prefix in write)  # sources never writable
    assert service["ports"] == ["127.0.0.1:8081:8081"]


def test_every_airflow_component_shares_one_jwt_secret_that_the_deployer_sets(compose):
    """Unset, each container would make its own: the api-server would refuse every token the scheduler signs
    for a task (apache/airflow#59373). Never a literal in the file."""
    airflow = {n: s for n, s in compose["services"].items() if "AIRFLOW__CORE__EXECUTOR" in s.get("environment", {})}
    assert {"airflow-apiserver", "airflow-scheduler", "airflow-worker", "airflow-triggerer"} <= set(airflow)
    secrets = {s["environment"].get("AIRFLOW__API_AUTH__JWT_SECRET") for s in airflow.values()}
    assert len(secrets) == 1 and secrets.pop().startswith("${AIRFLOW_JWT_SECRET:?"), secrets
    assert "export AIRFLOW_JWT_SECRET=" in (REPO / "README.md").read_text()


def test_event_mode_is_wired_from_minio_through_the_bridge_to_the_queue_the_triggerer_reads(compose):
    """MinIO → (webhook, with the bridge's token) notifications bridge → ElasticMQ queue ← the triggerer, whose
    connection reaches SQS at ElasticMQ and S3 at MinIO."""
    services, pipeline = compose["services"], compose["x-airflow-common"]["environment"]
    minio, bridge = services["minio"]["environment"], services["notifications-bridge"]["environment"]
    assert minio["MINIO_NOTIFY_WEBHOOK_ENDPOINT_OCR"] == "http://notifications-bridge:8090/"
    assert "--port" in services["notifications-bridge"]["entrypoint"] and "8090" in services["notifications-bridge"]["entrypoint"]
    token = bridge["OCR_BRIDGE_TOKEN"]
    assert token.startswith("${OCR_BRIDGE_TOKEN:?") and minio["MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_OCR"] == f"Bearer {token}"
    assert bridge["OCR_BRIDGE_QUEUE_URL"] == pipeline["OCR_EVENT_QUEUE_URL"]
    queue = pipeline["OCR_EVENT_QUEUE_URL"].rsplit("/", 1)[1]
    conf = (REPO / "docker/elasticmq/elasticmq.conf").read_text()
    assert re.search(rf"^\s*{queue} {{", conf, re.M) and "accountId = 000000000000" in conf
    assert f"{pipeline['OCR_EVENT_QUEUE_URL'].rsplit('/', 2)[0]}" == bridge["AWS_ENDPOINT_URL_SQS"] == "http://elasticmq:9324"
    init = "\n".join(services["minio-init"]["command"])
    source = pipeline["OCR_SOURCE_URI"].removeprefix("s3://").split("/", 1)
    assert f"mc event add --ignore-existing local/{source[0]} arn:minio:sqs::OCR:webhook --event put --prefix {source[1]}" in init
    airflow_init = "\n".join(services["airflow-init"]["command"])
    assert '"service_config": {"sqs": {"endpoint_url": "http://elasticmq:9324"}}' in airflow_init
    assert "OCR_BRIDGE_TOKEN" in (REPO / "README.md").read_text()


def test_the_vlm_server_is_what_the_ocr_service_is_told_to_use(compose):
    command = compose["services"]["vlm"]["command"]
    assert "--backend vllm" in command and "--port 8118" in command
    client = compose["services"]["ocr-service"]["environment"]
    served = re.search(r"--model_name (\S+)", command).group(1)
    assert client["OCR_VL_REC_API_MODEL_NAME"] == served  # the name the client asks for is the one served
    url = re.search(r":-(http://[^}]+)}", client["OCR_VL_REC_SERVER_URL"]).group(1)
    port = re.search(r"--port (\d+)", command).group(1)
    assert url == f"http://vlm:{port}/v1" and "vlm" in compose["services"]
    assert served.endswith(client["OCR_VL_PIPELINE_VERSION"].split(":-")[1].rstrip("}").removeprefix("v") + "-0.9B}")
    readme = (REPO / "README.md").read_text()
    assert (
        "OCR_VL_REC_BACKEND=vllm-server OCR_VL_REC_SERVER_URL=http://vlm:8118/v1 docker compose --profile vllm up"
        in readme
    )


def test_the_cpu_override_drops_the_gpu():
    override = load("docker-compose.cpu.yaml")["services"]["ocr-service"]
    assert override["build"]["dockerfile"] == "docker/ocr-task/Dockerfile.cpu"
    assert override["deploy"] == {} and override["environment"]["OCR_VL_ENABLED"] == "false"


def test_dockerfiles_pass_hadolint():
    hadolint = shutil.which("hadolint") or str(
        Path(__file__).resolve().parents[1] / ".venv" / "bin" / "hadolint"
    )
    result = subprocess.run([hadolint, *DOCKERFILES], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_images_never_fetch_models_at_run_time():
    gpu = (REPO / "docker/ocr-task/Dockerfile").read_text()
    assert "PADDLE_PDX_DISABLE_MODEL_SOURCE_CHECK=True" in gpu and "OCR_VL_MODELS_HOME=/models" in gpu
    assert "paddlepaddle.org.cn/packages/stable/cu126" in gpu  # paddlepaddle-gpu 3.x is not on PyPI
    assert re.search(r"^USER \d+", gpu, re.MULTILINE)  # not root
    assert "ocr_task models fetch" in gpu


def test_the_documents_view_is_served_by_the_api_server(compose):
    """The plugin's app runs inside the api-server: it needs the plugins folder, the catalog and S3 there."""
    api = compose["services"]["airflow-apiserver"]
    assert "./plugins:/opt/airflow/plugins" in api["volumes"]
    assert api["environment"]["OCR_CATALOG_URL"] == compose["x-airflow-common"]["environment"]["OCR_CATALOG_URL"]
    assert "COPY --chown=airflow:root plugins /opt/airflow/plugins" in (REPO / "docker/airflow/Dockerfile").read_text()
    # what the view imports beyond Airflow comes with the image's ocr-ingest core install
    from ocr_pipeline.ui import page_images  # noqa: F401 - pypdfium2 and Pillow

    core = load_pyproject()["project"]["dependencies"]
    assert {"pillow", "pypdfium2"} <= {re.split(r"[<>=\[ ]", d)[0].lower() for d in core}


def load_pyproject() -> dict:
    import tomllib

    return tomllib.loads((REPO / "pyproject.toml").read_text())
