"""Reading inputs and writing outputs, on local disk or S3, through one small API.

S3 goes through boto3 with the standard AWS configuration (``AWS_ENDPOINT_URL``,
credentials, region), so AWS, MinIO and a local S3 server all work alike.
"""

from __future__ import annotations

import functools
from pathlib import Path

from ocr_task.errors import DocumentError, DocumentUnreachable, StorageUnavailable

S3_SCHEME = "s3://"
# The object's own fault: it is gone, or it changed since it was planned.
_MISSING = {"NoSuchKey", "404", "NotFound"}
_CHANGED = {"PreconditionFailed", "412"}
# Nothing is to blame but who we are: every request would fail alike, so the batch stops at once.
_CREDENTIALS = {
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException", "InvalidToken",
    "TokenRefreshRequired", "AuthorizationHeaderMalformed", "NoSuchBucket", "AllAccessDisabled",
}  # fmt: skip
# botocore's own retries of each request (connection errors, throttling, 5xx) before the batch gives up:
# ``max_attempts`` in botocore's retry config counts the retries, so a request is tried this many times plus one.
S3_RETRIES = 3


def is_s3(uri: str) -> bool:
    return uri.startswith(S3_SCHEME)


def split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len(S3_SCHEME) :].partition("/")
    if not bucket:
        raise ValueError(f"not an s3://bucket/key URI: {uri!r}")
    return bucket, key


def join(prefix: str, name: str) -> str:
    """``prefix`` (a folder or an ``s3://`` prefix) joined with a relative ``name``."""
    if is_s3(prefix):
        return prefix.rstrip("/") + "/" + name
    return str(Path(prefix) / name)


def key_of(uri: str) -> str:
    """The part of a source that names it: the key of an S3 object, the file name of a path."""
    return split_s3(uri)[1] if is_s3(uri) else Path(uri).name


@functools.cache
def s3_client():
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": S3_RETRIES}, connect_timeout=5, read_timeout=120
    )
    return boto3.client("s3", config=config)


def _error_code(error) -> tuple[str, int]:
    return (
        str(error.response.get("Error", {}).get("Code", "")),
        error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0),
    )


def _raise_for(error: Exception, uri: str, *, writing: bool = False):
    """Turn a botocore error into the failure it is (see ``errors``).

    Reading an object: gone or changed is the document's own fault (``DocumentError``); our credentials
    or the bucket is the store's (``StorageUnavailable``: the batch stops); anything else the store answered
    (AccessDenied on that key, a KMS key the role may not use, SlowDown, 5xx that outlived botocore's own
    retries) is ``DocumentUnreachable``: retryable, and the runner stops the batch when it hits many
    documents. Writing, listing, or no answer at all: ``StorageUnavailable``.
    """
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    if isinstance(error, ClientError):
        code, status = _error_code(error)
        if not writing and code not in _CREDENTIALS:
            if code in _MISSING:
                raise DocumentError(f"object not found: {uri}") from error
            if code in _CHANGED:
                raise DocumentError(f"object changed since it was planned (ETag differs): {uri}") from error
            cause = f"S3 {code or status}"
            raise DocumentUnreachable(f"S3 answered {code or status} ({status}) reading {uri}: {error}", cause) from error
        action = "write" if writing else "read"
        raise StorageUnavailable(f"S3 refused to {action} {uri}: {code} {error}") from error
    if isinstance(error, NoCredentialsError):
        raise StorageUnavailable(f"no AWS credentials to read {uri}: set AWS_ACCESS_KEY_ID/…") from error
    if isinstance(error, BotoCoreError):
        raise StorageUnavailable(f"S3 unreachable for {uri}: {error}") from error
    raise error


class Storage:
    """Local paths and ``s3://`` URIs behind the same few calls."""

    def size(self, uri: str) -> int:
        """Bytes in the object or file (read before fetching it, to refuse oversized ones cheaply)."""
        if not is_s3(uri):
            path = Path(uri)
            if not path.is_file():
                raise DocumentError(f"file not found: {uri}")
            return path.stat().st_size
        bucket, key = split_s3(uri)
        try:
            head = s3_client().head_object(Bucket=bucket, Key=key)
        except Exception as error:  # noqa: BLE001 - classified below
            _raise_for(error, uri)
        return head["ContentLength"]

    def fetch(self, uri: str, workdir: Path, etag: str | None = None) -> Path:
        """A local path holding the object's bytes (S3 objects are downloaded into ``workdir``).

        With ``etag``, the download is conditional: an object that changed since
        it was planned is refused rather than processed under the old ETag.
        """
        if not is_s3(uri):
            return Path(uri)
        bucket, key = split_s3(uri)
        target = workdir / "object"
        extra = {"IfMatch": f'"{etag}"'} if etag else {}
        try:
            response = s3_client().get_object(Bucket=bucket, Key=key, **extra)
            with target.open("wb") as out:
                for chunk in response["Body"].iter_chunks(1 << 20):
                    out.write(chunk)
        except Exception as error:  # noqa: BLE001
            _raise_for(error, uri)
        return target

    def read_bytes(self, uri: str) -> bytes:
        if not is_s3(uri):
            return Path(uri).read_bytes()
        bucket, key = split_s3(uri)
        try:
            return s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as error:  # noqa: BLE001
            _raise_for(error, uri)

    def write_bytes(self, uri: str, data: bytes, content_type: str) -> None:
        if not is_s3(uri):
            path = Path(uri)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            return
        bucket, key = split_s3(uri)
        try:
            s3_client().put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
        except Exception as error:  # noqa: BLE001
            _raise_for(error, uri, writing=True)

    def expand(self, uri: str) -> list[str]:
        """A folder or an ``s3://…/`` prefix to the files under it; anything else to itself."""
        if is_s3(uri):
            if not uri.endswith("/"):
                return [uri]
            bucket, prefix = split_s3(uri)
            try:
                pages = s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                keys = [obj["Key"] for page in pages for obj in page.get("Contents", [])]
            except Exception as error:  # noqa: BLE001
                _raise_for(error, uri, writing=True)  # listing failures stop the batch
            return [f"{S3_SCHEME}{bucket}/{key}" for key in sorted(keys) if not key.endswith("/")]
        path = Path(uri)
        if path.is_dir():
            return [str(p) for p in sorted(path.rglob("*")) if p.is_file()]
        return [uri]
