"""The output name of a document is decided once: the plan's name (``layout.versioned_output_name``, on the Airflow side) is
the name the OCR step writes under, for awkward keys too. Real OCR step through its CLI."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

from ocr_pipeline import layout
from ocr_task.contract import Manifest, ManifestDocument
from ocr_task.naming import unique_names
from tests import samples
from tests.conftest import run_cli

PREFIX = "s3://docs/incoming/"
AWKWARD = [
    "2024/my scan (1).png",  # spaces
    "счета/Счёт №5 от 01.02.png",  # Cyrillic, composed (NFC)
    unicodedata.normalize("NFD", "счета/Счёт №5 от 01.02.png"),  # the same name decomposed (NFD): another key
    "../../etc/passwd.png",  # climbs out of the prefix
    "deep/" + "очень-длинное-имя-" * 20 + ".png",  # longer than a file system takes
]


def test_a_planned_name_is_the_name_the_ocr_step_keeps():
    planned = [layout.versioned_output_name(PREFIX + key, '"3f2a9c1b4d5e6f"', PREFIX) for key in AWKWARD]
    assert len(set(planned)) == len(AWKWARD)  # NFC and NFD keys are two objects: two names
    assert unique_names(planned) == planned
    for name in planned:
        assert ".." not in name.split("/") and " " not in name
        assert all(len(segment.encode()) <= 200 for segment in name.split("/"))


def test_the_ocr_step_writes_its_outputs_under_the_planned_names(tmp_path):
    image = samples.small_image(["Invoice 2291 paid"], 14, 300).image
    documents = []
    for number, key in enumerate(AWKWARD):
        source = tmp_path / "sources" / f"{number}.png"
        source.parent.mkdir(exist_ok=True)
        image.save(source)
        documents.append(ManifestDocument(source=str(source), name=layout.versioned_output_name(PREFIX + key, "etag", PREFIX)))
    manifest = tmp_path / "manifest.json"
    manifest.write_text(Manifest(documents=documents).model_dump_json())

    result = run_cli("run", "--manifest", str(manifest), "--output", str(tmp_path / "out"))

    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    for document, entry in zip(documents, report["documents"], strict=True):
        assert entry["name"] == document.name
        assert Path(entry["outputs"]["text"]) == tmp_path / "out" / f"{document.name}.txt"
        assert "Invoice" in Path(entry["outputs"]["text"]).read_text()
