"""Launchers: the same OCR image and CLI, started as a subprocess, a Docker container, a Kubernetes pod or an
AWS Batch job, or the batch sent to the long-running OCR service.

Each launcher is the provider's own operator with :class:`OcrLaunch` mixed in,
which adds what every launch needs around the container:

* before: forget any report an earlier attempt left, so that a report means *this* attempt ran;
* after: the batch ran if its report exists — exit code 3 (some documents
  rejected) is then success, not a failure to retry; without a report the
  launch failed (exit code 1: storage unreachable, engine cannot load) and
  the scheduler retries it;
* lineage: an asset event on the output prefix with the batch's figures, and
  OpenLineage input and output datasets for the S3 objects.
"""

from __future__ import annotations

import os
import subprocess
import sys

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.batch import BatchOperator
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.docker.operators.docker import DockerOperator
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from docker.types import DeviceRequest
from kubernetes.client import models as k8s

from ocr_pipeline.discovery import split_uri
from ocr_task.contract import Report

# Settings of the OCR step that a launcher hands on to the container from the Airflow worker's environment.
_PASSED_ON = (
    "OCR_WORKERS",
    "OCR_DPI",
    "OCR_MAX_PAGES",
    "OCR_MAX_PIXELS",
    "OCR_MAX_FILE_MB",
    "OCR_TESSDATA_DIR",
)

EXIT_USAGE = 2


def ocr_command(batch: dict) -> list[str]:
    """The OCR CLI invocation for a batch, the same for every launcher."""
    return [
        "python", "-m", "ocr_task", "run",
        "--manifest", batch["manifest_uri"],
        "--output", batch["output_uri"],
        "--report", batch["report_uri"],
    ]  # fmt: skip


def ocr_step_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in _PASSED_ON or k.startswith("OCR_VL_")}


def storage_environment(aws_conn_id: str) -> tuple[dict[str, str], dict[str, str]]:
    """(endpoint and region, credentials) of the Airflow AWS connection, as the OCR step's AWS_* variables."""
    hook = S3Hook(aws_conn_id=aws_conn_id)
    public = {}
    endpoint = hook.conn_config.endpoint_url
    if endpoint:
        public["AWS_ENDPOINT_URL"] = endpoint
    if hook.conn_region_name:
        public["AWS_DEFAULT_REGION"] = hook.conn_region_name
    credentials = hook.get_credentials()
    secret = {}
    if credentials.access_key:
        secret = {
            "AWS_ACCESS_KEY_ID": credentials.access_key,
            "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
        }
        if credentials.token:
            secret["AWS_SESSION_TOKEN"] = credentials.token
    return public, secret


class OcrLaunch(BaseOperator):
    """What every launcher does around starting the OCR step for one batch (see the module docstring).

    ``storage_conn_id`` is the AWS connection of the documents' S3 (distinct
    from any connection the launcher itself uses, such as AWS Batch's).
    """

    def __init__(self, *, batch: dict, storage_conn_id: str = "aws_default", **kwargs):
        self.batch = batch
        self.storage_conn_id = storage_conn_id
        self._report: Report | None = None
        super().__init__(**kwargs)

    def launch(self, context) -> None:  # pragma: no cover - each launcher defines it
        raise NotImplementedError

    def execute(self, context) -> dict:
        bucket, key = split_uri(self.batch["report_uri"])
        s3 = S3Hook(aws_conn_id=self.storage_conn_id)
        s3.delete_objects(bucket, [key])
        try:
            self.launch(context)
            failure = None
        except AirflowFailException:
            raise
        except Exception as error:  # noqa: BLE001 - decided by whether the report was written
            failure = error
        if not s3.check_for_key(key, bucket):
            if failure is not None:
                raise failure
            raise AirflowException(
                f"The OCR step ended without writing its report {self.batch['report_uri']}"
            )
        if failure is not None:
            self.log.warning(
                "The OCR step exited non-zero but wrote its report: some documents were rejected"
            )
        self._report = Report.model_validate_json(s3.read_key(key, bucket))
        summary = self._report.summary
        figures = {
            "batch_id": self.batch["batch_id"],
            "documents": summary.documents,
            "succeeded": summary.succeeded,
            "failed": summary.failed,
            "pages": summary.pages,
            "report_uri": self.batch["report_uri"],
        }
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = figures
        self.log.info("Batch %s: %s", self.batch["batch_id"], figures)
        # the report itself goes on to post-processing, which need not read it again
        return {
            "try_number": context["ti"].try_number,
            "report": self._report.model_dump(mode="json", by_alias=True),
            **figures,
        }

    def get_openlineage_facets_on_complete(self, task_instance):
        """Inputs: the batch's S3 objects; outputs: the text, Markdown and JSON the report names."""
        from airflow.providers.openlineage.extractors import OperatorLineage
        from openlineage.client.event_v2 import Dataset

        def dataset(uri: str) -> Dataset:
            bucket, key = split_uri(uri)
            return Dataset(namespace=f"s3://{bucket}", name=key)

        inputs = [dataset(d["source_uri"]) for d in self.batch["documents"]]
        outputs = []
        for entry in self._report.documents if self._report else []:
            if entry.outputs:
                outputs += [
                    dataset(entry.outputs.text),
                    dataset(entry.outputs.markdown),
                    dataset(entry.outputs.json_),
                ]
        return OperatorLineage(inputs=inputs, outputs=outputs)


class LocalOcrOperator(OcrLaunch):
    """The embedded default: the OCR CLI as a subprocess on the Airflow worker, its output in the task log."""

    def __init__(self, *, python: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.python = python or os.environ.get("OCR_TASK_PYTHON") or sys.executable
        self.command = [self.python, *ocr_command(self.batch)[1:]]

    def launch(self, context) -> None:
        public, secret = storage_environment(self.storage_conn_id)
        self.log.info("Running %s", " ".join(self.command))
        process = subprocess.Popen(
            self.command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **public, **secret},
        )
        try:
            for line in process.stdout:
                self.log.info("%s", line.rstrip())
            code = process.wait()
        finally:
            if process.poll() is None:  # the task timed out or was killed: take the child with it
                process.kill()
        if code == EXIT_USAGE:
            raise AirflowFailException(
                "The OCR step refused its arguments (exit code 2); retrying cannot help"
            )
        if code not in (0, 3):
            raise AirflowException(f"The OCR step failed with exit code {code}")


class DockerOcrOperator(OcrLaunch, DockerOperator):
    """The OCR image on a Docker host, with every GPU requested."""

    def __init__(self, **kwargs):
        batch = kwargs["batch"]
        kwargs.setdefault("command", ocr_command(batch))
        kwargs.setdefault("device_requests", [DeviceRequest(count=-1, capabilities=[["gpu"]])])
        kwargs.setdefault("auto_remove", "success")
        kwargs.setdefault("mount_tmp_dir", False)
        kwargs.setdefault("environment", ocr_step_environment())
        super().__init__(**kwargs)

    def launch(self, context) -> None:
        public, secret = storage_environment(self.storage_conn_id)
        self.environment = {**self.environment, **public}
        self.private_environment = {**(self.private_environment or {}), **secret}
        DockerOperator.execute(self, context)


class KubernetesOcrOperator(OcrLaunch, KubernetesPodOperator):
    """The OCR image as a pod with one NVIDIA GPU, on GPU nodes.

    Credentials come from the pod's service account (IRSA) or a Secret named
    by ``OCR_K8S_AWS_SECRET`` (keys AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).
    """

    def __init__(self, **kwargs):
        batch = kwargs["batch"]
        command = ocr_command(batch)
        kwargs.setdefault("cmds", command[:3])
        kwargs.setdefault("arguments", command[3:])
        kwargs.setdefault("name", f"ocr-batch-{batch['batch_id']}")
        kwargs.setdefault("container_resources", k8s.V1ResourceRequirements(limits={"nvidia.com/gpu": "1"}))
        kwargs.setdefault("node_selector", {"nvidia.com/gpu.present": "true"})
        kwargs.setdefault(
            "tolerations", [k8s.V1Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")]
        )
        kwargs.setdefault("env_vars", _k8s_env(ocr_step_environment()))
        secret = os.environ.get("OCR_K8S_AWS_SECRET")
        if secret:
            kwargs.setdefault(
                "env_from", [k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=secret))]
            )
        kwargs.setdefault("on_finish_action", "delete_succeeded_pod")
        kwargs.setdefault("get_logs", True)
        super().__init__(**kwargs)

    def launch(self, context) -> None:
        public, _ = storage_environment(self.storage_conn_id)
        self.env_vars = [*self.env_vars, *_k8s_env(public)]
        KubernetesPodOperator.execute(self, context)


def _k8s_env(values: dict[str, str]):
    return [k8s.V1EnvVar(name=k, value=v) for k, v in values.items()]


class BatchOcrOperator(OcrLaunch, BatchOperator):
    """The OCR image as an AWS Batch job with one GPU; credentials come from the job's IAM role."""

    def __init__(self, **kwargs):
        batch = kwargs["batch"]
        kwargs.setdefault("job_name", f"ocr-batch-{batch['batch_id']}")
        environment = [{"name": k, "value": v} for k, v in ocr_step_environment().items()]
        kwargs.setdefault(
            "container_overrides",
            {
                "command": ocr_command(batch),
                "resourceRequirements": [{"type": "GPU", "value": "1"}],
                "environment": environment,
            },
        )
        super().__init__(**kwargs)

    def launch(self, context) -> None:
        BatchOperator.execute(self, context)


class ServiceOcrOperator(OcrLaunch):
    """Sends the batch to the long-running OCR service (``python -m ocr_task serve``), engine already loaded.

    The service's URL is the Airflow HTTP connection ``http_conn_id``. The
    request body is the batch's manifest; the service writes the same outputs
    and report as the CLI. 503 (engine not ready, storage unreachable) and
    429 (queue full) are retried; other 4xx are not.
    """

    def __init__(self, *, http_conn_id: str = "ocr_service", request_timeout: int = 4 * 3600, **kwargs):
        super().__init__(**kwargs)
        self.http_conn_id = http_conn_id
        self.request_timeout = request_timeout

    def launch(self, context) -> None:
        from airflow.providers.http.hooks.http import HttpHook

        bucket, key = split_uri(self.batch["manifest_uri"])
        manifest = S3Hook(aws_conn_id=self.storage_conn_id).read_key(key, bucket)
        response = HttpHook(method="POST", http_conn_id=self.http_conn_id).run(
            endpoint="/v1/ocr",
            data=manifest,
            headers={"Content-Type": "application/json"},
            extra_options={"timeout": self.request_timeout, "check_response": False},
        )
        if response.status_code == 200:
            return
        detail = response.text[:500]
        if response.status_code in (408, 429) or response.status_code >= 500:
            raise AirflowException(f"OCR service answered {response.status_code}: {detail}")
        raise AirflowFailException(f"OCR service refused the batch ({response.status_code}): {detail}")


LAUNCHER_OPERATORS = {
    "local": LocalOcrOperator,
    "docker": DockerOcrOperator,
    "kubernetes": KubernetesOcrOperator,
    "batch": BatchOcrOperator,
    "service": ServiceOcrOperator,
}


def launcher_arguments(launcher: str) -> dict:
    """Deployment settings of a launcher, from the environment (read when the DAG is parsed)."""
    env = os.environ.get
    if launcher == "docker":
        return {
            "image": env("OCR_IMAGE", "ocr-task:latest"),
            "docker_url": env("OCR_DOCKER_URL", "unix://var/run/docker.sock"),
            "network_mode": env("OCR_DOCKER_NETWORK", "bridge"),
        }
    if launcher == "kubernetes":
        return {
            "image": env("OCR_IMAGE", "ocr-task:latest"),
            "namespace": env("OCR_K8S_NAMESPACE", "default"),
            "in_cluster": env("OCR_K8S_IN_CLUSTER", "true").lower() == "true",
        }
    if launcher == "batch":
        return {
            "job_definition": env("OCR_BATCH_JOB_DEFINITION", "ocr-task-gpu"),
            "job_queue": env("OCR_BATCH_JOB_QUEUE", "ocr-gpu"),
        }
    if launcher == "service":
        return {"http_conn_id": env("OCR_SERVICE_CONN_ID", "ocr_service")}
    return {}
