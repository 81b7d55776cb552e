"""The OCR image on a Docker host, with every GPU requested."""

from __future__ import annotations

from airflow.providers.docker.operators.docker import DockerOperator
from docker.types import DeviceRequest

from ocr_pipeline.launchers.base import OcrLaunch, as_batch
from ocr_pipeline.launchers.ocr_step import StorageAccess, ocr_command, ocr_image, ocr_step_environment
from ocr_pipeline.settings import LauncherSettings


class DockerOcrOperator(OcrLaunch, DockerOperator):
    """Credentials: the connection's static keys, or the Docker host's own role (a container cannot
    assume the connection's ``role_arn`` without a config file; give the host the role instead)."""

    # DockerContainerFailedException: "Docker container failed: {'StatusCode': 2, ...}"
    exit_code_pattern = r"'StatusCode': (\d+)"

    def __init__(self, **kwargs):
        batch = as_batch(kwargs["batch"])
        kwargs.setdefault("command", ocr_command(batch))
        kwargs.setdefault("device_requests", [DeviceRequest(count=-1, capabilities=[["gpu"]])])
        kwargs.setdefault("auto_remove", "force")  # exit code 3 is a batch that ran: never leave it behind
        kwargs.setdefault("mount_tmp_dir", False)
        kwargs.setdefault("environment", ocr_step_environment())
        super().__init__(**kwargs)

    @classmethod
    def deployment_arguments(cls) -> dict:
        settings = LauncherSettings()
        return {"image": ocr_image(), "docker_url": settings.docker_url, "network_mode": settings.docker_network}

    def launch(self, context) -> None:
        access = StorageAccess.of(self.storage)
        if access.role_arn and not access.secret:
            self.log.info("The connection assumes %s: the container uses the Docker host's credentials", access.role_arn)
        self.environment = {**self.environment, **access.public}
        self.private_environment = {**(self.private_environment or {}), **access.secret}
        DockerOperator.execute(self, context)
