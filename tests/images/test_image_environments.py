"""Each image's environment, built from its Dockerfile's own install lines (``environments``), runs what the
image runs: the Airflow image imports the DAGs and plugins, the CPU OCR image reads a page and serves, the GPU
OCR image installs its PaddleOCR client and says which models it lacks. Nothing of this checkout is on the
path: the code comes from what the Dockerfile installed and copied."""

from __future__ import annotations

import json
import subprocess
import time

import httpx
import pytest

from tests.images.environments import REPO, build
from tests.network import free_port
from tests.samples import cer

ENGINE_PACKAGES = ("cv2", "tesserocr", "onnxruntime", "paddleocr", "paddle", "rapidocr")
# which distributions install the cv2 package: two of them in one environment overwrite each other's files
CV2_OWNERS = """
import importlib.metadata as m, json
print(json.dumps(sorted({d.metadata["Name"] for d in m.distributions()
                         if any(str(f).startswith("cv2/") for f in (d.files or []))})))
"""


@pytest.fixture(scope="module")
def airflow_image(tmp_path_factory):
    """The Airflow image's environment with its metadata database migrated, as the image's init does."""
    image = build(REPO / "docker" / "airflow" / "Dockerfile", tmp_path_factory.mktemp("airflow-image"))
    migrated = image.run("airflow", "db", "migrate", env=_airflow_env(image))
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    return image


@pytest.fixture(scope="module")
def cpu_image(tmp_path_factory):
    return build(REPO / "docker" / "ocr-task" / "Dockerfile.cpu", tmp_path_factory.mktemp("cpu-image"))


@pytest.fixture(scope="module")
def gpu_image(tmp_path_factory):
    return build(REPO / "docker" / "ocr-task" / "Dockerfile", tmp_path_factory.mktemp("gpu-image"))


def _airflow_env(image, **more):
    home = image.path("/opt/airflow")
    return image.env(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(home / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        **{"OCR_CATALOG_URL": f"sqlite:///{home / 'catalog.db'}", **more},
    )


def _printed(result: subprocess.CompletedProcess):
    """The JSON a command printed last (Airflow's CLI logs to the same stream before it)."""
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_airflow_image_parses_the_dags_with_no_import_errors_and_no_engine(airflow_image):
    installed = airflow_image.run(str(airflow_image.bin / "python"), "-c", CV2_OWNERS)
    assert json.loads(installed.stdout) == []  # the Airflow image has no OpenCV at all
    # the catalog as compose configures it (parsing never connects to it): its tables become the DAG's assets
    env = _airflow_env(airflow_image, OCR_CATALOG_URL="postgresql+psycopg2://airflow:airflow@postgres/ocr_catalog")
    result = airflow_image.run("airflow", "dags", "list-import-errors", "--local", "-o", "json", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _printed(result) == [], result.stdout
    listed = airflow_image.run("airflow", "dags", "list", "--local", "-o", "json", env=env)
    assert "document_ingest" in {d["dag_id"] for d in _printed(listed)}, listed.stderr[-3000:]


CELERY_WORKER_START = """
import json, sys
from airflow.providers.celery.executors.celery_executor_utils import app  # the app `airflow celery worker` runs
app.loader.import_default_modules()  # what the worker does as it starts, before it forks
print(json.dumps({"imports": list(app.conf.imports), "preloaded": sorted(m for m in ("ocr_pipeline.tasks",
      "ocr_pipeline.launchers.service", "airflow.providers.amazon.aws.hooks.s3") if m in sys.modules)}))
"""


def test_the_airflow_images_celery_worker_imports_the_dag_side_as_it_starts(airflow_image):
    """Compose's Celery setting in the image's environment: Airflow's configuration loads, and a starting
    worker imports the DAG file's modules and compose's launcher (``service``) with nothing failing."""
    env = _airflow_env(
        airflow_image, AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS="ocr_pipeline.celery_config.CELERY_CONFIG",
        AIRFLOW__CORE__EXECUTOR="CeleryExecutor", OCR_LAUNCHER="service",
    )  # fmt: skip
    result = airflow_image.run(str(airflow_image.bin / "python"), "-c", CELERY_WORKER_START, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _printed(result) == {
        "imports": ["ocr_pipeline.worker_preload"],
        "preloaded": ["airflow.providers.amazon.aws.hooks.s3", "ocr_pipeline.launchers.service", "ocr_pipeline.tasks"],
    }
    assert "DAG side preloaded" in result.stdout + result.stderr
    assert "preloading" not in result.stdout + result.stderr  # no module failed


LOAD_PLUGINS = """
import json, os, sys
from airflow import plugins_manager
from airflow.api_fastapi.app import create_app
from fastapi.testclient import TestClient
from ocr_pipeline.catalog import Catalog

Catalog(os.environ["OCR_CATALOG_URL"]).migrate()
api_server = TestClient(create_app("core"))  # the api-server's app, the plugin's view mounted as it serves it
token = api_server.post("/auth/token", json={"username": "admin", "password": "image-test"}).json()["access_token"]
headers = {"Authorization": f"Bearer {token}"}
print(json.dumps({
    "plugins": sorted(p["name"] for p in plugins_manager.get_plugin_info()),
    "errors": plugins_manager.get_import_errors(),
    "page": api_server.get("/documents/", headers=headers).status_code,
    "summary": api_server.get("/documents/api/summary", headers=headers).status_code,
    "anonymous": api_server.get("/documents/api/summary").status_code,
    "engines": sorted(m for m in sys.modules if m.split(".")[0] in ENGINE_PACKAGES),
}))
""".replace("ENGINE_PACKAGES", repr(ENGINE_PACKAGES))


def test_the_airflow_image_loads_the_plugins_and_serves_the_documents_view(airflow_image):
    passwords = airflow_image.path("/opt/airflow/passwords.json")
    passwords.write_text(json.dumps({"admin": "image-test"}))
    env = _airflow_env(
        airflow_image,
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(passwords),
        AIRFLOW__API_AUTH__JWT_SECRET="image-test-secret",
    )
    result = airflow_image.run(str(airflow_image.bin / "python"), "-c", LOAD_PLUGINS, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = _printed(result)
    assert loaded["errors"] == {}
    assert {"documents", "ocr_run_end"} <= set(loaded["plugins"])
    assert (loaded["page"], loaded["summary"], loaded["anonymous"]) == (200, 200, 401)
    assert loaded["engines"] == []


def test_the_cpu_image_reads_a_page_with_its_own_packages(cpu_image, sample_docs, tmp_path):
    installed = cpu_image.run(str(cpu_image.bin / "python"), "-c", CV2_OWNERS)
    assert json.loads(installed.stdout) == ["opencv-python-headless"]
    output = tmp_path / "out"
    result = cpu_image.run(
        "python", "-m", "ocr_task", "run", "--input", str(sample_docs["english.png"].path), "--output", str(output)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    text = (output / "english.png.txt").read_text()
    assert cer(sample_docs["english.png"].text, text) <= 0.02
    where = cpu_image.run("python", "-c", "import ocr_task; print(ocr_task.__file__)").stdout
    assert where.startswith(str(cpu_image.venv))  # the installed package, not this checkout


def _serve(image, port: int, **env):
    """The image's own command (``CMD``), on a port of this machine's loopback."""
    command = [*image.recipe.command[:-4], "--host", "127.0.0.1", "--port", str(port)]
    assert command[:4] == ["python", "-m", "ocr_task", "serve"]
    return subprocess.Popen(command, env=image.env(**env), cwd=image.root / "home",
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip


def _ready(port: int, timeout: float = 120) -> httpx.Response:
    """/ready once the engine has finished loading (200) or failed to (503 with a detail)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5)
            if response.status_code == 200 or "loading" not in response.json().get("detail", "loading"):
                return response
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError("the service did not answer /ready")


def test_the_cpu_image_serves_and_is_ready(cpu_image):
    port = free_port()
    service = _serve(cpu_image, port)
    try:
        response = _ready(port)
        assert response.status_code == 200, response.text
        assert response.json()["ready"] is True
    finally:
        service.terminate()
        service.wait(30)


def test_the_gpu_image_installs_the_paddleocr_client_with_one_opencv(gpu_image):
    # PaddlePaddle's GPU build comes from its own index, which this machine cannot reach: named, not hidden
    assert [install.args[0] for install, _ in gpu_image.skipped] == ["paddlepaddle-gpu==3.3.1"]
    installed = gpu_image.run(str(gpu_image.bin / "python"), "-c", CV2_OWNERS)
    assert json.loads(installed.stdout) == ["opencv-contrib-python"]
    imports = gpu_image.run("python", "-c", "import paddleocr, rapidocr, tesserocr, ocr_task.engines.paddle_vl")
    assert imports.returncode == 0, imports.stderr[-3000:]


def test_the_gpu_image_says_which_models_are_missing_and_how_to_provision_them(gpu_image, tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    result = gpu_image.run("python", "-m", "ocr_task", "models", "check", env=gpu_image.env(OCR_VL_MODELS_HOME=str(models)))
    said = result.stdout + result.stderr
    assert result.returncode != 0, said
    assert "PP-DocLayoutV3" in said and "PaddleOCR-VL-1.6-0.9B" in said and "Missing" in said, said
    assert "models fetch" in said, said  # how to provision them offline
    port = free_port()
    service = _serve(gpu_image, port, OCR_VL_MODELS_HOME=str(models))
    try:
        response = _ready(port)
        assert response.status_code == 503
        assert "models fetch" in response.json()["detail"] or "missing" in response.json()["detail"].lower()
    finally:
        service.terminate()
        service.wait(30)
