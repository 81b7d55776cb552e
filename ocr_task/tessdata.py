"""Where Tesseract's language data lives, and which languages it holds."""

from __future__ import annotations

import os
from pathlib import Path

from ocr_task.errors import EngineUnavailable

# Debian's tesseract-ocr-* packages, then common other places.
_CANDIDATES = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
    "/opt/homebrew/share/tessdata",
)


def find_tessdata(configured: Path | None = None) -> Path:
    candidates = [configured] if configured else []
    if os.environ.get("TESSDATA_PREFIX"):
        candidates.append(Path(os.environ["TESSDATA_PREFIX"]))
    candidates += [Path(c) for c in _CANDIDATES]
    for folder in candidates:
        if folder and (folder / "eng.traineddata").is_file():
            return folder
    raise EngineUnavailable(
        "Tesseract language data not found (looked in "
        + ", ".join(str(c) for c in candidates if c)
        + "). Install it with `apt-get install tesseract-ocr tesseract-ocr-eng tesseract-ocr-rus` "
        "(or run `make install`), or point OCR_TESSDATA_DIR at a tessdata folder."
    )


def installed_languages(tessdata: Path) -> set[str]:
    return {p.name.removesuffix(".traineddata") for p in tessdata.glob("*.traineddata")}


def check_languages(lang: str, tessdata: Path) -> None:
    missing = [code for code in lang.split("+") if code not in installed_languages(tessdata)]
    if missing:
        packages = " ".join(f"tesseract-ocr-{code.replace('_', '-').lower()}" for code in missing)
        raise EngineUnavailable(
            f"Tesseract has no language data for {', '.join(missing)} in {tessdata}; "
            f"install it with `apt-get install {packages}`"
        )
