"""Launchers: the same OCR image and CLI, started as a subprocess, a Docker container, a Kubernetes pod or an
AWS Batch job, or the batch sent to the long-running OCR service.

The registry names each launcher's class by import path, so that the DAG
imports only the launcher in use: a deployment without the Docker,
Kubernetes or AWS Batch providers parses the DAG as long as it does not use
them. Adding a launcher: one module with an :class:`~.base.OcrLaunch`
subclass (and its ``deployment_arguments``), and one line here.
"""

from __future__ import annotations

import importlib

LAUNCHERS = {
    "local": "ocr_pipeline.launchers.local:LocalOcrOperator",
    "docker": "ocr_pipeline.launchers.docker:DockerOcrOperator",
    "kubernetes": "ocr_pipeline.launchers.kubernetes:KubernetesOcrOperator",
    "batch": "ocr_pipeline.launchers.aws_batch:AwsBatchOcrOperator",  # AWS Batch (OCR_LAUNCHER=batch)
    "service": "ocr_pipeline.launchers.service:ServiceOcrOperator",
}


def load_launcher(name: str):
    """The operator class of a launcher, imported now (and only now)."""
    module, _, attribute = LAUNCHERS[name].partition(":")
    return getattr(importlib.import_module(module), attribute)
