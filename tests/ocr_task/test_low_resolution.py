"""Faxes and other pages with small text, and orientation checked by the result: real Tesseract, real pages."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from ocr_task.config import OcrSettings
from ocr_task.documents import ImagePage
from ocr_task.pipeline import PagePipeline
from ocr_task.resolution import despeckled, measure_text
from tests import samples
from tests.conftest import run_cli


def fax(lang: str, seed: int) -> tuple[str, object]:
    page = samples.render_page(samples.paragraphs(lang, 5, seed), dpi=100, lang=lang, point_size=9)
    return page.text, samples.fax_like(page, seed)


def test_small_text_is_measured_on_the_page_itself():
    assert measure_text(fax("en", 0)[1].convert("L")).enlargement == 3  # 100-dpi fax: letters of 8 pixels
    scan = measure_text(samples.scan_like(samples.render_page(samples.paragraphs("en", 6, 0)).image, 0))
    assert scan.enlargement == 1 and scan.letters > 1000  # 200-dpi scan of 11-point text
    blank = measure_text(samples.scan_like(samples.render_page([]).image, 0))  # grey, noisy paper, no ink
    assert (blank.letters, blank.height, blank.enlargement) == (0, None, 1)


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_a_100_dpi_speckled_fax_is_enlarged_upright_and_read(tmp_path, lang):
    texts, errors = {}, {}
    for seed in range(3):  # seed 2 in English: orientation detection said 180 degrees at the fax's own size
        texts[f"fax_{seed}.png"], image = fax(lang, seed)
        image.save(tmp_path / f"fax_{seed}.png", dpi=(100, 100))
    result = run_cli("run", "--input", *(str(tmp_path / n) for n in texts), "--output", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    for name, text in texts.items():
        page = json.loads((tmp_path / "out" / f"{name}.json").read_text())["pages"][0]
        assert (page["scale"], page["rotation"]) == (3, 0), name
        # an enlarged Latin page is read with English alone (the combined model puts Cyrillic look-alikes
        # into degraded English), whether OSD told its script or the reading did
        assert page["lang"] == {"en": "eng", "ru": "rus+eng"}[lang], (name, page["language_check"])
        errors[name] = samples.cer(text, (tmp_path / "out" / f"{name}.txt").read_text())
    assert max(errors.values()) <= 0.03 and sum(errors.values()) / len(errors) <= 0.02, errors


def test_small_images_are_enlarged_like_small_print_and_read(tmp_path):
    made = {
        "strip-en.png": samples.small_image(["Invoice 2291 paid on 14 March 2024"], 12, 400),  # 400x50
        "strip-ru.png": samples.small_image(["Счёт 2291 оплачен 14 марта 2024"], 12, 400, lang="ru"),
        "crop.png": samples.small_image(["Delivery to warehouse 7,", "Rotterdam, gate B"], 13, 300),
        "thumbnail.png": samples.SamplePage(*_thumbnail()),
    }
    for name, page in made.items():
        page.image.save(tmp_path / name)
    result = run_cli("run", "--input", *(str(tmp_path / n) for n in made), "--output", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    for name, page in made.items():
        read = json.loads((tmp_path / "out" / f"{name}.json").read_text())["pages"][0]
        assert not read["blank"] and read["scale"] >= 2, (name, read["scale"])
        assert samples.cer(page.text, (tmp_path / "out" / f"{name}.txt").read_text()) <= 0.03, name


def _thumbnail():
    """A page shown at a third of its size: letters of about 7 pixels."""
    page = samples.render_page(samples.paragraphs("en", 2, 7))
    return page.image.resize((page.image.width // 3, page.image.height // 3), resample=1), page.text


def test_cleaning_an_upright_fax_keeps_the_dots_of_i_and_j_and_drops_the_noise():
    page = samples.render_page(samples.paragraphs("en", 5, 0), dpi=100, lang="en", point_size=9)
    clean = np.asarray(samples.fax_like(page, 0, speckle=0).convert("L")) < 128
    noisy = samples.fax_like(page, 0).convert("L")
    _, labels, stats, _ = cv2.connectedComponentsWithStats(clean.astype(np.uint8), connectivity=8)
    dots = (stats[:, cv2.CC_STAT_AREA] <= 2)[labels] & clean  # what the fax left of the dots: a pixel or two
    noise = (np.asarray(noisy) < 128) & ~clean
    for keep_dots, dots_kept in ((False, (0.0, 0.1)), (True, (0.9, 1.0))):
        cleaned = np.asarray(despeckled(noisy, keep_dots=keep_dots)) < 128
        assert dots_kept[0] <= (cleaned & dots).sum() / dots.sum() <= dots_kept[1]
        assert (cleaned & ~clean).sum() <= 0.06 * noise.sum()


def test_a_russian_fax_with_english_terms_is_told_cyrillic_and_read_once(tmp_path):
    """Orientation detection looks at a fax at twice its size: at its own size it took this page for Latin."""
    page = samples.render_page(samples.MIXED_RU_EN, dpi=100, lang="ru", point_size=9, title="Решение проблемы")
    samples.fax_like(page, 3).save(tmp_path / "mixed.png", dpi=(100, 100))
    result = run_cli("run", "--input", str(tmp_path / "mixed.png"), "--output", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    read = json.loads((tmp_path / "out" / "mixed.png.json").read_text())["pages"][0]
    assert (read["script"], read["lang"], read["language_check"]) == ("Cyrillic", "rus+eng", None)
    assert samples.cer(page.text, (tmp_path / "out" / "mixed.png.txt").read_text()) <= 0.08


def test_an_english_fax_with_a_russian_paragraph_is_read_again_with_both_languages(tmp_path):
    """OSD says Latin (most of the page is), the English model reads the page unsurely, the combined one
    surely; the page's JSON says so."""
    paragraphs = samples.paragraphs("en", 2, 7) + samples.paragraphs("ru", 1, 8)
    page = samples.render_page(paragraphs, dpi=100, lang="ru", point_size=9, title="Report / Отчёт")
    samples.fax_like(page, 3).save(tmp_path / "mixed.png", dpi=(100, 100))
    result = run_cli("run", "--input", str(tmp_path / "mixed.png"), "--output", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-2000:]
    read = json.loads((tmp_path / "out" / "mixed.png.json").read_text())["pages"][0]
    check = read["language_check"]
    assert (read["script"], check["read_with"], check["kept"], read["lang"]) == ("Latin", "eng", "rus+eng", "rus+eng")
    assert check["tried"]["eng"] < 0.8 <= check["tried"]["rus+eng"]
    assert samples.cer(page.text, (tmp_path / "out" / "mixed.png.txt").read_text()) <= 0.05


def test_an_unsure_reading_is_tried_the_other_ways_up_and_the_best_kept():
    page = samples.render_page(samples.paragraphs("en", 3, 1))
    upside_down = samples.turned(samples.scan_like(page.image, 1), 180)
    # every reading is "unsure" under a threshold of 0.99: all four ways up are tried, the upright one is kept
    pipeline = PagePipeline(OcrSettings(engine="tesseract", lang="eng", min_confidence=0.99))
    [result] = pipeline.process([ImagePage(0, np.asarray(upside_down), 200)])
    check = result.orientation_check
    assert check["detected_rotation"] == 180 and check["kept_rotation"] == 180 == result.rotation
    assert set(check["tried"]) == {0, 90, 180, 270}
    assert check["tried"][180] == max(check["tried"].values()) > 0.8
    assert samples.cer(page.text, result.text) <= 0.02

    sure = PagePipeline(OcrSettings(engine="tesseract", lang="eng"))  # the default threshold: read once
    [result] = sure.process([ImagePage(0, np.asarray(upside_down), 200)])
    assert result.orientation_check is None and result.rotation == 180


@pytest.mark.parametrize("turn", [90, 180, 270])
def test_a_turned_fax_is_turned_upright_by_orientation_detection_alone(turn):
    """At its own size OSD misjudged most turned faxes, which then cost a reading per wrong turn; it looks at
    them at twice their size, and finds the turn at once."""
    text, image = fax("en", 1)
    pipeline = PagePipeline(OcrSettings(engine="auto"))
    [result] = pipeline.process([ImagePage(0, np.asarray(samples.turned(image, turn).convert("L")), 100)])
    assert (result.rotation, result.orientation_check, result.scale) == (turn, None, 3)
    assert samples.cer(text, result.text) <= 0.05
