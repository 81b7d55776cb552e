"""schemathesis against the service's own OpenAPI document: generated requests (valid and not) to every
route of a real ``serve`` process on loopback, with the token; no 5xx, every answer as documented."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.service_process import serving

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def service(s3_server):
    bucket = s3_server.new_bucket()
    yield from serving(
        {
            **s3_server.env,
            "OCR_SERVICE_QUEUE_DEPTH": "4",
            "OCR_SERVICE_MAX_UPLOAD_MB": "1",
            "OCR_SERVICE_READ_PREFIXES": f"s3://{bucket}/in/",
            "OCR_SERVICE_WRITE_PREFIXES": f"s3://{bucket}/out/",
        }
    )


def test_no_5xx_and_every_answer_as_documented(service):
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {"POST /v1/ocr", "POST /v1/jobs", "GET /v1/jobs/{job_id}"}
    answered: set[tuple[str, int]] = set()
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=30,
            deadline=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def fuzz(case):
            response = case.call_and_validate(
                base_url=service.url,
                headers={"Authorization": f"Bearer {service.token}"},
                checks=CHECKS,
                timeout=60,
            )
            answered.add((case.operation.label, response.status_code))

        fuzz()
    # the generated requests got past validation into the routes: documents read, storage checked
    assert ("POST /v1/ocr", 422) in answered and ("POST /v1/jobs", 403) in answered
