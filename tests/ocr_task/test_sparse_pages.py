"""Sparse pages (map labels, one-line strips): every label read, in its own script, with real Tesseract and RapidOCR."""

from __future__ import annotations

import pytest

from tests import samples
from tests.conftest import read_in_one_batch

SPARSE = {
    **{
        f"map-en-{seed}": (lambda seed=seed: samples.labelled_drawing(seed, 20 + 3 * seed))
        for seed in range(4)
    },
    **{
        f"map-ru-{seed}": (lambda seed=seed: samples.labelled_drawing(seed, 22 + 3 * seed, "ru"))
        for seed in range(2)
    },
    "strip-en": lambda: samples.small_image(["Invoice 2291 paid on 14 March 2024"], 12, 400),
    # "All" read as "АП" by the combined model, and too few letters for the page's share of Cyrillic to tell
    "strip-en-lookalike": lambda: samples.small_image(["All invoices must be paid within thirty"], 12, 420),
    "strip-ru": lambda: samples.small_image(["Счёт 2291 оплачен 14 марта 2024"], 12, 400, lang="ru"),
}


@pytest.fixture(scope="module")
def read_sparse(tmp_path_factory):
    """Each page of ``SPARSE`` (scanned, but the strips) read in one batch: (the text drawn, the .txt, the page JSON)."""
    folder = tmp_path_factory.mktemp("sparse")
    truths = {}
    for seed, (name, make) in enumerate(SPARSE.items()):
        page = make()
        image = page.image if name.startswith("strip") else samples.scan_like(page.image, seed)
        image.save(folder / f"{name}.png", dpi=(200, 200))
        truths[name] = page.text
    read = read_in_one_batch(folder, [f"{name}.png" for name in SPARSE])
    return {
        name: (truth, read[f"{name}.png"][0], read[f"{name}.png"][1]["pages"][0])
        for name, truth in truths.items()
    }


@pytest.mark.parametrize("name", list(SPARSE))
def test_every_label_of_a_sparse_page_is_read_in_its_own_script(read_sparse, name):
    truth, text, page = read_sparse[name]
    for label in truth.splitlines():
        assert samples.normalise(label) in samples.normalise(text), (label, text, page["language_check"])
    if "-ru" not in name:
        assert not any("\u0400" <= ch <= "\u04ff" for ch in text), (
            text
        )  # no Cyrillic look-alikes in Latin words
    # the decision is recorded: what was tried and kept, or the script that sent the page to RapidOCR
    assert (page["language_check"] or {}).get("kept") or page["script"], page
