"""Documents read with low confidence are flagged for a person to look at (report, then catalog)."""

from __future__ import annotations

import json

from ocr_pipeline.rows import batch_rows
from ocr_task.contract import ManifestDocument, Report
from tests.conftest import run_cli


def test_low_confidence_is_flagged_in_the_report_and_the_catalog_row(sample_docs, tmp_path):
    clean, noisy = sample_docs["english.png"].path, sample_docs["russian_scan.jpg"].path

    def report(threshold: str) -> dict:
        out = tmp_path / threshold
        result = run_cli(
            "run",
            "--input",
            str(clean),
            str(noisy),
            "--output",
            str(out),
            env={"OCR_MIN_CONFIDENCE": threshold},
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return json.loads((out / "report.json").read_text())

    default = report("0.6")
    assert [e["low_confidence"] for e in default["documents"]] == [False, False]  # good pages read well
    assert all(0.6 < e["mean_confidence"] < 1 for e in default["documents"])
    flagged = report("1.0")  # nothing is read with full confidence: every document is flagged
    assert [e["low_confidence"] for e in flagged["documents"]] == [True, True]

    parsed = Report.model_validate(flagged)
    documents = [ManifestDocument(source=e.source, etag="e") for e in parsed.documents]
    rows = batch_rows("b", documents, parsed, {}, lambda uri: True, 50)
    assert [r.low_confidence for r in rows] == [e.low_confidence for e in parsed.documents]
