"""The embedded default: the OCR CLI as a subprocess on the Airflow worker, its output in the task log."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from airflow.sdk.exceptions import AirflowException

from ocr_pipeline.launchers.base import OcrLaunch
from ocr_pipeline.launchers.ocr_step import StorageAccess, ocr_command
from ocr_pipeline.settings import LauncherSettings
from ocr_task.contract import EXIT_OK, EXIT_SOME_FAILED


class OcrStepFailed(AirflowException):
    def __init__(self, code: int, said: str | None = None):
        super().__init__(f"The OCR step failed with exit code {code}" + (f": {said}" if said else ""))
        self.code = code


class LocalOcrOperator(OcrLaunch):
    def __init__(self, *, python: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.python = python or LauncherSettings().task_python or sys.executable
        self.command = [self.python, *ocr_command(self.batch)[1:]]

    def exit_code_of(self, error: Exception) -> int | None:
        return error.code if isinstance(error, OcrStepFailed) else None

    def launch(self, context) -> None:
        access = StorageAccess.of(self.storage)
        with tempfile.TemporaryDirectory(prefix="ocr-aws-") as folder:
            env = {**os.environ, **access.public, **access.secret}
            if access.role_arn:
                config = os.path.join(folder, "config")
                with open(config, "w") as file:
                    file.write(access.profile())
                env.update(AWS_CONFIG_FILE=config, AWS_SDK_LOAD_CONFIG="1")
            code, said = self._run(env)
        if code not in (EXIT_OK, EXIT_SOME_FAILED):
            raise OcrStepFailed(code, said)

    def _run(self, env: dict[str, str]) -> tuple[int, str | None]:
        """The step's exit code, and its own last word (``ocr_task: batch stopped: …``), which names the cause."""
        self.log.info("Running %s", " ".join(self.command))
        process = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        said = None
        try:
            for line in process.stdout:
                self.log.info("%s", line.rstrip())
                if line.startswith("ocr_task: "):
                    said = line.strip().removeprefix("ocr_task: ")
            return process.wait(), said
        finally:
            if process.poll() is None:  # the task timed out or was killed: take the child with it
                process.kill()
