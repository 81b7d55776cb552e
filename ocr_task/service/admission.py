"""ASGI middleware in front of uploads: 413 for a body over the limit, 429 when the queue is full.

Both are answered before the body is read, which a route cannot do (FastAPI
reads a form before it calls the route).
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

from ocr_task.service.engine import QueueFull

UPLOAD_PATH = "/v1/ocr"


class _BodyTooLarge(Exception):
    pass


class UploadAdmission:
    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != UPLOAD_PATH or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        too_large = _problem(413, f"request body over {self.max_bytes // (1024 * 1024)} MB")
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await too_large(scope, receive, send)
        places = scope["app"].state.engine.places
        try:
            places.take()
        except QueueFull as full:
            return await _problem(429, str(full))(scope, receive, send)
        received = 0

        async def counted_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counted_receive, send)
        except _BodyTooLarge:
            await too_large(scope, receive, send)
        finally:
            places.give_back()


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail})
