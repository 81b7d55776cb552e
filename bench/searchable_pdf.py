"""What the searchable PDF costs: the time it adds per page next to the OCR time, and its size next to the
source's, with ``ocrmypdf --output-type pdf`` on the same documents for comparison.

    .venv/bin/python bench/searchable_pdf.py [--repeat N]

Generated documents (A4 at 200 dpi): a clean English PNG, a scan-like Russian JPEG, a two-column PNG, a page
stored sideways, a bilevel G4 TIFF and a two-page scanned PDF. Each is read once by the OCR step with the
``auto`` engine and one worker (``BatchRunner.read``, the PDF not made), then its PDF is made from that result
``--repeat`` times (``searchable_pdf``, best time). OCRmyPDF (``make bench-env``; skipped without it) makes
its PDF of each document with ``--output-type pdf --force-ocr -l rus+eng --jobs 1`` (OCR included: its PDF
step cannot be timed apart) and ``--image-dpi 200`` for images.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pikepdf

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "plugins")]

from ocr_task.config import OcrSettings  # noqa: E402
from ocr_task.contract import ManifestDocument  # noqa: E402
from ocr_task.documents import detect_kind  # noqa: E402
from ocr_task.runner import BatchRunner  # noqa: E402
from ocr_task.searchable_pdf import searchable_pdf  # noqa: E402
from ocr_task.storage import Storage  # noqa: E402
from tests import samples  # noqa: E402

OCRMYPDF = REPO / ".venv-bench" / "bin" / "ocrmypdf"


def documents(folder: Path) -> list[Path]:
    english = samples.render_page(samples.paragraphs("en", 6, seed=11), title="Quarterly Report")
    russian = samples.render_page(samples.paragraphs("ru", 6, seed=12), title="Акт сверки")
    columns = samples.render_page(samples.paragraphs("en", 10, seed=13), columns=2, title="Bulletin")
    english.image.save(folder / "clean-en.png", dpi=(200, 200))
    samples.scan_like(russian.image, seed=3).save(folder / "scan-ru.jpg", quality=90, dpi=(200, 200))
    columns.image.save(folder / "two-column.png", dpi=(200, 200))
    samples.turned(english.image, 90).save(folder / "sideways.png", dpi=(200, 200))
    bilevel = english.image.convert("1")
    bilevel.save(folder / "g4.tif", compression="group4", dpi=(200, 200), tiffinfo={278: bilevel.height})
    samples.image_pdf([russian.image, columns.image], folder / "scanned.pdf")
    return sorted(p for p in folder.iterdir() if p.is_file())


def ocrmypdf(path: Path, out: Path) -> tuple[float, int] | None:
    if not OCRMYPDF.exists():
        return None
    extra = [] if path.suffix == ".pdf" else ["--image-dpi", "200"]
    started = time.perf_counter()
    subprocess.run([str(OCRMYPDF), "--output-type", "pdf", "--force-ocr", "-l", "rus+eng", "--jobs", "1", *extra,
                    "-q", str(path), str(out)], check=True, capture_output=True)  # fmt: skip
    return time.perf_counter() - started, out.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings = OcrSettings(engine="auto", workers=1, searchable_pdf=False)
    runner = BatchRunner(settings, Storage())
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for path in documents(folder):
            started = time.perf_counter()
            entry, result, _ = runner.read(ManifestDocument(source=str(path)))
            ocr_seconds = time.perf_counter() - started
            assert result is not None, entry.error
            kind = detect_kind(path, path.name, settings)
            best, pdf = float("inf"), b""
            for _ in range(args.repeat):
                started = time.perf_counter()
                pdf = searchable_pdf(path, kind, result)
                best = min(best, time.perf_counter() - started)
            theirs = ocrmypdf(path, folder / f"{path.name}.ocrmypdf.pdf")
            with pikepdf.open(io.BytesIO(pdf)) as made:
                pages = len(made.pages)
            rows.append((path.name, pages, ocr_seconds, best, path.stat().st_size, len(pdf), theirs))
    print("| document | pages | OCR s | PDF s | PDF / OCR | source bytes | our PDF | OCRmyPDF PDF | OCRmyPDF s (with OCR) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, pages, ocr, made, size, ours, theirs in rows:
        their_size = f"{theirs[1]:,} ({100 * (theirs[1] / size - 1):+.1f} %)" if theirs else "–"
        their_time = f"{theirs[0]:.2f}" if theirs else "–"
        print(f"| {name} | {pages} | {ocr:.2f} | {made:.3f} | {100 * made / ocr:.1f} % | {size:,} | "
              f"{ours:,} ({100 * (ours / size - 1):+.1f} %) | {their_size} | {their_time} |")  # fmt: skip
    ocr_total, pdf_total = sum(r[2] for r in rows), sum(r[3] for r in rows)
    print(f"\nAll: the PDF added {pdf_total:.2f} s to {ocr_total:.2f} s of OCR ({100 * pdf_total / ocr_total:.1f} %)")


if __name__ == "__main__":
    main()
