"""The service's settings: ``OCR_SERVICE_*`` in the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OCR_SERVICE_", extra="ignore")

    concurrency: int = Field(1, ge=1, description="Batches recognised at once (each uses every worker)")
    queue_depth: int = Field(
        8, ge=0, description="Jobs and uploads that may wait for their turn; beyond: 429"
    )
    max_upload_mb: int = Field(100, ge=1, description="Largest request body; beyond: 413")
    token: SecretStr | None = Field(
        None, description="Bearer token every route but /health and /ready asks for"
    )
    token_file: Path | None = Field(None, description="A file holding the token (a mounted secret)")
    allowed_prefixes: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="s3:// prefixes (comma-separated) that jobs may read from and write to; nothing else",
    )
    finished_jobs_kept: int = Field(
        200, ge=1, description="Finished jobs whose status and report stay readable"
    )

    @field_validator("allowed_prefixes", mode="before")
    @classmethod
    def _comma_separated(cls, value):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("allowed_prefixes")
    @classmethod
    def _s3_folders(cls, value: list[str]) -> list[str]:
        """Each prefix an s3://bucket/… folder ending in "/", so that s3://b/in never admits s3://b/inbox."""
        folders = []
        for prefix in value:
            bucket = prefix.removeprefix("s3://").split("/", 1)[0]
            if not prefix.startswith("s3://") or not bucket:
                raise ValueError(f"allowed prefixes are s3://bucket/… URIs, not {prefix!r}")
            folders.append(prefix if prefix.endswith("/") else prefix + "/")
        return folders

    def bearer_token(self) -> str | None:
        """The token, from OCR_SERVICE_TOKEN or the file OCR_SERVICE_TOKEN_FILE names."""
        if self.token is not None:
            return self.token.get_secret_value()
        if self.token_file is not None:
            return self.token_file.read_text().strip() or None
        return None
