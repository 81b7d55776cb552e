"""The OCR image as a pod with one NVIDIA GPU, on GPU nodes.

Credentials come from the pod's service account (IRSA) or a Secret named by
``OCR_K8S_AWS_SECRET`` (keys AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).
"""

from __future__ import annotations

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from kubernetes.client import models as k8s

from ocr_pipeline.launchers.base import OcrLaunch, as_batch
from ocr_pipeline.launchers.ocr_step import StorageAccess, ocr_command, ocr_image, ocr_step_environment
from ocr_pipeline.settings import LauncherSettings


def _k8s_env(values: dict[str, str]):
    return [k8s.V1EnvVar(name=k, value=v) for k, v in values.items()]


class KubernetesOcrOperator(OcrLaunch, KubernetesPodOperator):
    # the provider's failure message carries the pod's status: ... 'exit_code': 2 ...
    exit_code_pattern = r"'exit_code': (\d+)"

    def __init__(self, **kwargs):
        batch = as_batch(kwargs["batch"])
        command = ocr_command(batch)
        kwargs.setdefault("cmds", command[:3])
        kwargs.setdefault("arguments", command[3:])
        kwargs.setdefault("name", f"ocr-batch-{batch.batch_id}")
        kwargs.setdefault("container_resources", k8s.V1ResourceRequirements(limits={"nvidia.com/gpu": "1"}))
        kwargs.setdefault("node_selector", {"nvidia.com/gpu.present": "true"})
        kwargs.setdefault(
            "tolerations", [k8s.V1Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")]
        )
        kwargs.setdefault("env_vars", _k8s_env(ocr_step_environment()))
        secret = LauncherSettings().k8s_aws_secret
        if secret:
            kwargs.setdefault("env_from", [k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=secret))])
        kwargs.setdefault("on_finish_action", "delete_pod")  # exit code 3 is a batch that ran: no pod left behind
        kwargs.setdefault("get_logs", True)
        # The report check must run after the pod ends, in this execute(): a deferred operator would
        # resume in execute_complete and skip it, so this launcher always waits in the worker.
        kwargs["deferrable"] = False
        super().__init__(**kwargs)

    @classmethod
    def deployment_arguments(cls) -> dict:
        settings = LauncherSettings()
        return {"image": ocr_image(), "namespace": settings.k8s_namespace, "in_cluster": settings.k8s_in_cluster}

    def launch(self, context) -> None:
        access = StorageAccess.of(self.storage)
        self.env_vars = [*self.env_vars, *_k8s_env(access.public)]
        KubernetesPodOperator.execute(self, context)
