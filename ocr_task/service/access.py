"""Who may call the service, and which storage a job may touch.

* every route but /health and /ready needs ``Authorization: Bearer <token>`` (401 otherwise);
* a job's sources, output and report must be s3:// URIs under ``OCR_SERVICE_ALLOWED_PREFIXES``
  (403 otherwise, before anything is read or written).
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


def storage_refusal(manifest: Manifest, allowed: list[str]) -> str | None:
    """Why the job may not run on this storage (None: it may).

    Every URI the job would read (its sources) or write (its output prefix, its report) is checked.
    """
    if not allowed:
        return "this service allows no storage: set OCR_SERVICE_ALLOWED_PREFIXES"
    if not manifest.output:
        return "an s3:// output prefix is required"
    output = manifest.output if manifest.output.endswith("/") else manifest.output + "/"
    report = manifest.report or join(output, REPORT_NAME)
    uris = [("output", output), ("report", report)] + [("source", d.source) for d in manifest.documents]
    return next((refusal for role, uri in uris if (refusal := uri_refusal(role, uri, allowed))), None)


def uri_refusal(role: str, uri: str, allowed: list[str]) -> str | None:
    """Why the job may not touch ``uri`` (None: it may)."""
    if not allowed:
        return "this service allows no storage: set OCR_SERVICE_ALLOWED_PREFIXES"
    if not is_s3(uri):
        return f"the {role} must be an s3:// URI, not {uri!r}"
    if ".." in uri.split("/") or not any(uri.startswith(prefix) for prefix in allowed):
        return f"the {role} {uri} is outside the allowed prefixes"
    return None
