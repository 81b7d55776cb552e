"""The container launchers as built for a batch: image, command, GPU request (no Docker, Kubernetes or AWS Batch here)."""

from __future__ import annotations

import pytest

from ocr_pipeline.launchers import load_launcher
from ocr_pipeline.launchers.aws_batch import AwsBatchOcrOperator
from ocr_pipeline.launchers.docker import DockerOcrOperator
from ocr_pipeline.launchers.kubernetes import KubernetesOcrOperator
from ocr_pipeline.launchers.local import LocalOcrOperator
from ocr_pipeline.launchers.ocr_step import StorageAccess
from tests.dags.conftest import load_dag

BATCH = {
    "batch_id": "ab12cd34-0003",
    "folder": "s3://docs/processed/_batches/run/ab12cd34/0003/",
    "documents": 2,
}
# the manifest names the outputs and the report: one source, nothing repeated on the command line
COMMAND = [
    "python",
    "-m",
    "ocr_task",
    "run",
    "--manifest",
    "s3://docs/processed/_batches/run/ab12cd34/0003/manifest.json",
]


@pytest.fixture(autouse=True)
def deployment(monkeypatch):
    monkeypatch.setenv("OCR_IMAGE", "registry.example.com/ocr-task:1.2.0")
    monkeypatch.setenv("OCR_VL_REC_BACKEND", "vllm-server")
    monkeypatch.setenv("OCR_VL_REC_SERVER_URL", "http://vlm:8118/v1")


def test_docker_runs_the_image_with_every_gpu():
    op = DockerOcrOperator(task_id="ocr", batch=BATCH, **load_launcher("docker").deployment_arguments())
    assert op.image == "registry.example.com/ocr-task:1.2.0"
    assert op.command == COMMAND
    (request,) = op.device_requests
    assert request["Count"] == -1 and request["Capabilities"] == [["gpu"]]
    assert op.environment["OCR_VL_REC_SERVER_URL"] == "http://vlm:8118/v1"


def test_kubernetes_pod_asks_for_an_nvidia_gpu_on_gpu_nodes():
    op = KubernetesOcrOperator(
        task_id="ocr", batch=BATCH, **load_launcher("kubernetes").deployment_arguments()
    )
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
    op = AwsBatchOcrOperator(task_id="ocr", batch=BATCH, **load_launcher("batch").deployment_arguments())
    assert (op.job_definition, op.job_queue, op.job_name) == (
        "ocr-task-gpu",
        "ocr-gpu",
        "ocr-batch-ab12cd34-0003",
    )
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
        ("batch", AwsBatchOcrOperator),
    ],
)
def test_the_dag_maps_the_configured_launcher_over_batches(monkeypatch, launcher, operator):
    monkeypatch.setenv("OCR_LAUNCHER", launcher)
    ocr = load_dag().task_dict["ocr"]
    assert ocr.operator_class is operator or ocr.operator_class.__name__ == operator.__name__
    assert ocr.partial_kwargs["pool"] == "gpu" and "batch" in ocr.expand_input.value


def test_container_launchers_wait_in_execute_and_leave_nothing_behind():
    """Deferred, the providers' operators would resume past the report check; exit code 3 must not keep
    a container or a pod."""
    docker = DockerOcrOperator(task_id="ocr", batch=BATCH, **load_launcher("docker").deployment_arguments())
    pod = KubernetesOcrOperator(
        task_id="ocr", batch=BATCH, deferrable=True, **load_launcher("kubernetes").deployment_arguments()
    )
    job = AwsBatchOcrOperator(
        task_id="ocr", batch=BATCH, deferrable=True, **load_launcher("batch").deployment_arguments()
    )
    assert docker.auto_remove == "force"
    assert (
        str(pod.on_finish_action.value if hasattr(pod.on_finish_action, "value") else pod.on_finish_action)
        == "delete_pod"
    )
    assert pod.deferrable is False and job.deferrable is False


def test_a_usage_error_is_not_retried_by_any_container_launcher():
    """Exit code 2 (the step refused its arguments) is read from each provider's failure."""
    from airflow.providers.docker.exceptions import DockerContainerFailedException
    from airflow.sdk.exceptions import AirflowException

    docker = DockerOcrOperator(task_id="ocr", batch=BATCH, **load_launcher("docker").deployment_arguments())
    assert (
        docker.exit_code_of(
            DockerContainerFailedException("Docker container failed: {'StatusCode': 2, 'Error': None}")
        )
        == 2
    )
    assert (
        docker.exit_code_of(DockerContainerFailedException("Docker container failed: {'StatusCode': 1}")) == 1
    )
    pod = KubernetesOcrOperator(
        task_id="ocr", batch=BATCH, **load_launcher("kubernetes").deployment_arguments()
    )
    failure = AirflowException(
        "Pod ocr-batch returned a failure.\nremote_pod: {'state': {'terminated': {'exit_code': 2, 'reason': 'Error'}}}"
    )
    assert pod.exit_code_of(failure) == 2


def test_storage_access_passes_lasting_credentials_never_a_session(monkeypatch):
    import json

    monkeypatch.setenv("AIRFLOW_CONN_S3_ROLE", json.dumps({
        "conn_type": "aws", "login": "AKIASTATIC", "password": "secret",
        "extra": {"role_arn": "arn:aws:iam::123456789012:role/ocr", "endpoint_url": "http://127.0.0.1:9", "region_name": "eu-west-1"},
    }))  # fmt: skip
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    access = StorageAccess.of(S3Hook(aws_conn_id="s3_role"))
    assert access.secret == {"AWS_ACCESS_KEY_ID": "AKIASTATIC", "AWS_SECRET_ACCESS_KEY": "secret"}
    assert access.public == {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_DEFAULT_REGION": "eu-west-1"}
    assert "role_arn = arn:aws:iam::123456789012:role/ocr" in access.profile()
    assert "credential_source = Environment" in access.profile()
