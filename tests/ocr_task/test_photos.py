"""Phone photos of pages: found on the desk, flattened, evenly lit, read — and flat scans left alone. Real Tesseract."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from ocr_task.photo import page_corners
from tests import samples
from tests.conftest import run_cli


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_a_photographed_page_is_flattened_and_read(tmp_path, lang):
    page = samples.render_page(samples.paragraphs(lang, 4, 0), lang=lang)
    samples.photo_like(page.image, seed=0).save(tmp_path / "photo.jpg")  # keystone, desk, light from one side

    result = run_cli("run", "--input", str(tmp_path / "photo.jpg"), "--output", str(tmp_path / "out"))

    assert result.returncode == 0, result.stderr[-2000:]
    read = json.loads((tmp_path / "out" / "photo.jpg.json").read_text())["pages"][0]
    assert len(read["flattened"]) == 4  # the page's corners in the photo
    assert samples.cer(page.text, (tmp_path / "out" / "photo.jpg.txt").read_text()) <= 0.02


def test_the_page_outline_is_found_in_a_photo_and_never_in_a_scan(sample_docs):
    page = samples.render_page(samples.paragraphs("en", 4, 1))
    corners = page_corners(np.asarray(samples.photo_like(page.image, seed=1).convert("L")))
    assert corners is not None
    top_left, top_right, bottom_right, bottom_left = corners
    assert top_right[0] - top_left[0] < bottom_right[0] - bottom_left[0]  # keystone: the top edge is shorter
    for name in ("english.png", "russian_scan.jpg", "two_column.png", "sideways_90.png", "upside_down.png"):
        gray = np.asarray(Image.open(sample_docs[name].path).convert("L"))
        assert page_corners(gray) is None, name
