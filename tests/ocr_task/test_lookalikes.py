"""Cyrillic look-alikes in Latin text read again with ``eng``, word by word, with real Tesseract; real Russian
words in an English text stay as they are (the wild pages are in test_wild_documents.py)."""

from __future__ import annotations

from tests import samples
from tests.conftest import read_in_one_batch

RUSSIAN_NAMES = ["The office moved to Москва in 2001 and stayed there since.",
                 "The contract was signed by Иван Петров, the director of the plant.",
                 "Send the forms to the Отдел кадров before noon on Friday."]  # fmt: skip


def test_russian_words_in_an_english_page_stay_russian(tmp_path):
    page = samples.render_page([*samples.paragraphs("en", 4, 7), " ".join(RUSSIAN_NAMES)], title="Annual Review")
    samples.scan_like(page.image, 3).save(tmp_path / "review.png", dpi=(200, 200))
    text, document = read_in_one_batch(tmp_path, ["review.png"])["review.png"]
    for word in ("Москва", "Иван", "Петров", "Отдел", "кадров"):
        assert word in text, (word, text)
    assert samples.cer(page.text, text) < 0.01, text
    check = document["pages"][0]["language_check"]
    assert check is None or check["lookalikes"]["words_replaced"] == 0, check
