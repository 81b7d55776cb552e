"""The CLI as a launcher runs it, against a real S3 API server (moto) on loopback."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli
from tests.network import free_port
from tests.samples import cer


@pytest.fixture
def bucket(s3_server, sample_docs):
    name = s3_server.new_bucket()
    client = s3_server.client()
    for file_name in ("english.png", "russian_scan.jpg", "born_digital.pdf"):
        client.upload_file(str(sample_docs[file_name].path), name, f"incoming/2024/{file_name}")
    client.put_object(Bucket=name, Key="incoming/2024/broken.pdf", Body=b"%PDF-1.7\n1 0 obj")
    return name


def _report(s3_server, bucket, prefix):
    body = s3_server.client().get_object(Bucket=bucket, Key=f"{prefix}report.json")["Body"].read()
    return json.loads(body)


def test_inputs_from_a_bucket_outputs_and_report_to_a_prefix(s3_server, bucket, sample_docs):
    result = run_cli(
        "run",
        "--input", f"s3://{bucket}/incoming/2024/english.png", f"s3://{bucket}/incoming/2024/born_digital.pdf",
        "--output", f"s3://{bucket}/processed/",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = _report(s3_server, bucket, "processed/")
    assert [d["status"] for d in report["documents"]] == ["succeeded", "succeeded"]
    english = report["documents"][0]
    assert english["outputs"]["text"] == f"s3://{bucket}/processed/incoming/2024/english.png.txt"
    client = s3_server.client()
    text = (
        client.get_object(Bucket=bucket, Key="processed/incoming/2024/english.png.txt")["Body"]
        .read()
        .decode()
    )
    assert cer(sample_docs["english.png"].text, text) <= 0.02
    head = client.head_object(Bucket=bucket, Key="processed/incoming/2024/english.png.md")
    assert head["ContentType"].startswith("text/markdown")
    # each document's searchable PDF, the last ones of the batch too (they finish after the last submitted:
    # their downloaded sources must still be there)
    for document in report["documents"]:
        pdf = document["outputs"]["pdf"]
        assert pdf == f"s3://{bucket}/processed/{document['name']}.pdf", document
        body = client.get_object(Bucket=bucket, Key=pdf.removeprefix(f"s3://{bucket}/"))["Body"].read()
        assert body.startswith(b"%PDF-")


def test_a_prefix_expands_to_its_objects_and_a_bad_one_fails_alone(s3_server, bucket):
    result = run_cli("run", "--input", f"s3://{bucket}/incoming/", "--output", f"s3://{bucket}/out/")
    assert result.returncode == 3, result.stderr
    report = _report(s3_server, bucket, "out/")
    status = {d["name"]: (d["status"], d["error"]) for d in report["documents"]}
    assert status["incoming/2024/broken.pdf"][0] == "failed"
    assert "corrupt or truncated PDF" in status["incoming/2024/broken.pdf"][1]
    assert {s for name, (s, _) in status.items() if name != "incoming/2024/broken.pdf"} == {"succeeded"}


def test_manifest_on_s3_with_etags_and_names(s3_server, bucket):
    client = s3_server.client()
    etag = client.head_object(Bucket=bucket, Key="incoming/2024/born_digital.pdf")["ETag"].strip('"')
    manifest = {
        "version": 1,
        "documents": [
            {
                "source": f"s3://{bucket}/incoming/2024/born_digital.pdf",
                "etag": etag,
                "name": "2024/contract.pdf",
            },
            {"source": f"s3://{bucket}/incoming/2024/english.png", "etag": "0123456789abcdef"},
            {"source": f"s3://{bucket}/incoming/2024/missing.png"},
        ],
    }
    client.put_object(Bucket=bucket, Key="manifests/batch-1.json", Body=json.dumps(manifest))
    result = run_cli(
        "run", "--manifest", f"s3://{bucket}/manifests/batch-1.json", "--output", f"s3://{bucket}/m/"
    )
    assert result.returncode == 3, result.stderr
    contract, changed, missing = _report(s3_server, bucket, "m/")["documents"]
    assert contract["status"] == "succeeded" and contract["etag"] == etag
    assert contract["outputs"]["json"] == f"s3://{bucket}/m/2024/contract.pdf.json"
    assert changed["error"].startswith("object changed since it was planned (ETag differs)")
    assert missing["error"] == f"object not found: s3://{bucket}/incoming/2024/missing.png"


def test_unreachable_storage_stops_the_batch_with_exit_1(s3_server, tmp_path):
    result = run_cli(
        "run", "--input", "s3://docs/incoming/a.pdf", "--output", str(tmp_path),
        env={"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"},
    )  # fmt: skip
    assert result.returncode == 1
    assert "batch stopped: S3 unreachable" in result.stderr
    assert not (tmp_path / "report.json").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--output", "out/"],
        ["run", "--input", "a.png", "--output", "out/", "--engine", "magic"],
        ["run", "--input", "a.png"],
        ["run", "--input", "a.png", "--output", "out/", "--lang", "klingon"],
        ["run", "--input", "a.png", "--output", "out/", "--dpi", "5"],
    ],
)
def test_usage_errors_exit_2(args, tmp_path):
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_manifest_is_a_usage_error(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"version": 9, "documents": []}))
    result = run_cli("run", "--manifest", str(tmp_path / "manifest.json"), "--output", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "manifest version 9 is not supported" in result.stderr
