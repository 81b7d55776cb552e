"""The OCR step as a long-running HTTP service that keeps its engine loaded between requests.

    OCR_SERVICE_TOKEN=... OCR_SERVICE_READ_PREFIXES=s3://documents/in/ OCR_SERVICE_WRITE_PREFIXES=s3://documents/out/ python -m ocr_task serve --port 8081

* ``GET /health``, ``GET /ready``: liveness and readiness (no token);
* ``POST /v1/ocr``: one uploaded document (multipart ``file``), answered with what was read;
* ``POST /v1/jobs``: a batch of S3 documents (the manifest), answered 202 with a job id at once;
  ``GET /v1/jobs/{id}``: its status, progress and, once finished, its report; ``DELETE``: cancel.

Modules: ``settings`` (OCR_SERVICE_*), ``access`` (token, allowed storage), ``engine`` (the loaded
runner and its queue), ``jobs``, ``admission`` (413/429 before an upload is read), ``routes``, ``app``.
"""

from ocr_task.service.app import create_app, serve

__all__ = ["create_app", "serve"]
