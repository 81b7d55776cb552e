"""MinIO's bucket notifications onto an SQS queue, for event mode in compose.

AWS S3 sends its event notifications to SQS itself. MinIO cannot: it sends them to a webhook. This small
service is that webhook. It takes MinIO's ``POST`` (``{"EventName", "Key", "Records": [...]}``, the records
in S3's own format) and sends ``{"Records": [...]}`` to the queue, as S3 would, where the triggerer's
``MessageQueueTrigger`` receives it (``ocr_pipeline.events``).

Who may call: only a caller with the token (``OCR_BRIDGE_TOKEN``, which MinIO sends as its webhook's
``auth_token``: ``MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_<ID>="Bearer <token>"``). What it does: sends messages
to one queue (``OCR_BRIDGE_QUEUE_URL``), nothing else. It answers 200 only once the message is on the
queue: on a queue error it answers 503, and MinIO keeps the event and sends it again (with its
``queue_dir`` set). Unauthenticated ``HEAD``/``GET /`` answer 200 with nothing: MinIO checks that the
endpoint is alive before it adds the target, without the token.

    OCR_BRIDGE_TOKEN=… OCR_BRIDGE_QUEUE_URL=http://elasticmq:9324/000000000000/docs-created \\
        AWS_ENDPOINT_URL_SQS=http://elasticmq:9324 python -m ocr_pipeline.notifications_bridge --port 8090
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from fastapi import FastAPI, Header, HTTPException, Request, Response
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)
MAX_BODY = 256 * 1024  # SQS's largest message


class BridgeSettings(BaseSettings):
    """``OCR_BRIDGE_TOKEN`` and ``OCR_BRIDGE_QUEUE_URL`` (the SQS endpoint: boto3's ``AWS_ENDPOINT_URL_SQS``)."""

    model_config = SettingsConfigDict(env_prefix="OCR_BRIDGE_", extra="ignore")

    token: str = ""
    queue_url: str


def create_app(token: str, queue_url: str, sqs=None) -> FastAPI:
    """The webhook: ``POST /`` with ``Authorization: Bearer <token>`` → one message on ``queue_url``."""
    if len(token) < 16:
        raise ValueError("OCR_BRIDGE_TOKEN must be set, at least 16 characters: the webhook asks who is calling")
    sqs = sqs or boto3.client("sqs")
    app = FastAPI(title="MinIO notifications to SQS", docs_url=None, redoc_url=None, openapi_url=None)

    @app.api_route("/", methods=["GET", "HEAD"])
    def alive() -> Response:
        return Response(status_code=200)

    @app.post("/")
    async def notification(request: Request, authorization: str = Header(default="")) -> dict:
        if not hmac.compare_digest(authorization.encode(), f"Bearer {token}".encode()):
            raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        body = await request.body()
        if len(body) > MAX_BODY:
            raise HTTPException(413, f"a notification is at most {MAX_BODY} bytes")
        try:
            event = json.loads(body)
        except ValueError:
            raise HTTPException(400, "the body is not JSON") from None
        records = event.get("Records") if isinstance(event, dict) else None
        if not isinstance(records, list) or not records:
            raise HTTPException(400, "not a bucket notification: no Records")
        try:
            sent = sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"Records": records}))
        except (BotoCoreError, ClientError) as error:
            log.error("Could not send %s to %s: %s", event.get("Key"), queue_url, error)
            raise HTTPException(503, "the queue is not answering: send the event again") from error
        log.info("%s %s → message %s", event.get("EventName"), event.get("Key"), sent["MessageId"])
        return {"message_id": sent["MessageId"]}

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = BridgeSettings()
    app = create_app(settings.token, settings.queue_url)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
