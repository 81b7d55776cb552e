"""The service's settings: ``OCR_SERVICE_*`` in the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
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
    read_prefixes: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="s3:// prefixes (comma-separated) that jobs may read documents (and manifests) from; "
        "nothing is ever written there",
    )
    write_prefixes: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="s3:// prefixes (comma-separated) that jobs may write outputs and reports to (manifests "
        "may be read from them too); none may hold a read prefix",
    )
    allowed_prefixes: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Replaced by read_prefixes and write_prefixes: refused if set"
    )
    finished_jobs_kept: int = Field(
        200, ge=1, description="Finished jobs whose status and report stay readable"
    )

    @field_validator("read_prefixes", "write_prefixes", "allowed_prefixes", mode="before")
    @classmethod
    def _comma_separated(cls, value):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("read_prefixes", "write_prefixes", "allowed_prefixes")
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

    @model_validator(mode="after")
    def _reads_apart_from_writes(self):
        if self.allowed_prefixes:
            raise ValueError(
                "OCR_SERVICE_ALLOWED_PREFIXES was split in two: set OCR_SERVICE_READ_PREFIXES (the sources) and "
                "OCR_SERVICE_WRITE_PREFIXES (outputs and reports), which may not overlap"
            )
        for written in self.write_prefixes:
            for read in self.read_prefixes:
                if read.startswith(written):  # outputs inside a readable bucket are fine; sources inside writes are not
                    raise ValueError(
                        f"write prefix {written} holds read prefix {read}: a job could overwrite the documents it "
                        "reads. Give outputs a prefix of their own (e.g. s3://docs/processed/ beside s3://docs/incoming/)"
                    )
        return self

    def bearer_token(self) -> str | None:
        """The token, from OCR_SERVICE_TOKEN or the file OCR_SERVICE_TOKEN_FILE names."""
        if self.token is not None:
            return self.token.get_secret_value()
        if self.token_file is not None:
            return self.token_file.read_text().strip() or None
        return None
