"""The container launchers as built for a batch: image, command, GPU request (no Docker, Kubernetes or AWS Batch here)."""

from __future__ import annotations

import pytest

from ocr_pipeline.launchers import (
    BatchOcrOperator,
    DockerOcrOperator,
    KubernetesOcrOperator,
    LocalOcrOperator,
    launcher_arguments,
)
from tests.dags.conftest import load_dag

BATCH = {
    "batch_id": "0003",
    "manifest_uri": "s3://docs/processed/_batches/run/0003/manifest.json",
    "report_uri": "s3://docs/processed/_batches/run/0003/report.json",
    "output_uri": "s3://docs/processed/",
    "documents": [],
}
COMMAND = [
    "python", "-m", "ocr_task", "run",
    "--manifest", BATCH["manifest_uri"], "--output", "s3://docs/processed/", "--report", BATCH["report_uri"],
]  # fmt: skip


@pytest.fixture(autouse=True)
def deployment(monkeypatch):
    monkeypatch.setenv("OCR_IMAGE", "registry.example.com/ocr-task:1.2.0")
    monkeypatch.setenv("OCR_VL_REC_BACKEND", "vllm-server")
    monkeypatch.setenv("OCR_VL_REC_SERVER_URL", "http://vlm:8118/v1")


def test_docker_runs_the_image_with_every_gpu():
    op = DockerOcrOperator(task_id="ocr", batch=BATCH, **launcher_arguments("docker"))
    assert op.image == "registry.example.com/ocr-task:1.2.0"
    assert op.command == COMMAND
    (request,) = op.device_requests
    assert request["Count"] == -1 and request["Capabilities"] == [["gpu"]]
    assert op.environment["OCR_VL_REC_SERVER_URL"] == "http://vlm:8118/v1"


def test_kubernetes_pod_asks_for_an_nvidia_gpu_on_gpu_nodes():
    op = KubernetesOcrOperator(task_id="ocr", batch=BATCH, **launcher_arguments("kubernetes"))
    assert op.image == "registry.example.com/ocr-task:1.2.0"
    assert op.cmds + op.arguments == COMMAND
    assert op.container_resources.limits == {"nvidia.com/gpu": "1"}
    assert op.node_selector == {"nvidia.com/gpu.present": "true"}
    (toleration,) = op.tolerations
    assert (toleration.key, toleration.operator, toleration.effect) == (
        "nvidia.com/gpu",
        "Exists",
        "NoSchedule",
    )
    assert {e.name: e.value for e in op.env_vars}["OCR_VL_REC_BACKEND"] == "vllm-server"


def test_aws_batch_job_overrides_command_and_gpu():
    op = BatchOcrOperator(task_id="ocr", batch=BATCH, **launcher_arguments("batch"))
    assert (op.job_definition, op.job_queue, op.job_name) == ("ocr-task-gpu", "ocr-gpu", "ocr-batch-0003")
    assert op.container_overrides["command"] == COMMAND
    assert op.container_overrides["resourceRequirements"] == [{"type": "GPU", "value": "1"}]


def test_local_runs_the_same_cli_with_this_python():
    op = LocalOcrOperator(task_id="ocr", batch=BATCH)
    assert op.command[1:] == COMMAND[1:] and op.command[0].endswith("python")


@pytest.mark.parametrize(
    ("launcher", "operator"),
    [
        ("local", LocalOcrOperator),
        ("docker", DockerOcrOperator),
        ("kubernetes", KubernetesOcrOperator),
        ("batch", BatchOcrOperator),
    ],
)
def test_the_dag_maps_the_configured_launcher_over_batches(monkeypatch, launcher, operator):
    monkeypatch.setenv("OCR_LAUNCHER", launcher)
    ocr = load_dag().task_dict["ocr"]
    assert ocr.operator_class is operator or ocr.operator_class.__name__ == operator.__name__
    assert ocr.partial_kwargs["pool"] == "gpu" and "batch" in ocr.expand_input.value
