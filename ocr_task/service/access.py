"""Who may call the service, and which storage a job may touch.

* every route but /health and /ready needs ``Authorization: Bearer <token>`` (401 otherwise);
* a job's sources must be s3:// URIs under ``OCR_SERVICE_READ_PREFIXES``, its output and report under
  ``OCR_SERVICE_WRITE_PREFIXES`` (which never overlap the first), a manifest it is sent by reference under
  either (403 otherwise, before anything is read or written).
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ocr_task.contract import REPORT_NAME, Manifest
from ocr_task.storage import is_s3, join

_bearer = HTTPBearer(auto_error=False, description="OCR_SERVICE_TOKEN of the service")


def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    expected = request.app.state.token
    if expected is None:  # no token: the service listens on loopback only (see serve)
        return
    if credentials is None or not secrets.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "a valid bearer token is required", {"WWW-Authenticate": "Bearer"}
        )


def storage_refusal(manifest: Manifest, read: list[str], write: list[str]) -> str | None:
    """Why the job may not run on this storage (None: it may).

    Every URI the job would read (its sources: under ``read``) or write (its output prefix, its report:
    under ``write``) is checked.
    """
    if not manifest.output:
        return "an s3:// output prefix is required"
    output = manifest.output if manifest.output.endswith("/") else manifest.output + "/"
    report = manifest.report or join(output, REPORT_NAME)
    checks = [("output", output, write), ("report", report, write)]
    checks += [("source", d.source, read) for d in manifest.documents]
    return next((refusal for role, uri, allowed in checks if (refusal := uri_refusal(role, uri, allowed))), None)


def uri_refusal(role: str, uri: str, allowed: list[str]) -> str | None:
    """Why the job may not touch ``uri`` (None: it may)."""
    if not allowed:
        return f"this service allows no storage for a {role}: set OCR_SERVICE_READ_PREFIXES and OCR_SERVICE_WRITE_PREFIXES"
    if not is_s3(uri):
        return f"the {role} must be an s3:// URI, not {uri!r}"
    if ".." in uri.split("/") or not any(uri.startswith(prefix) for prefix in allowed):
        return f"the {role} {uri} is outside the prefixes allowed for it"
    return None
