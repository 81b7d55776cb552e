"""OCR speed and accuracy of the CPU engines, next to plain Tesseract, on generated pages.

    .venv/bin/python bench/ocr_speed.py [--pages-per-kind N] [--engines auto,tesseract,rapidocr] [--repeat N]

Builds its own pages (A4 at 200 dpi): English and Russian, clean and
scan-like (tilted 1.5°, noise, blur, JPEG), two-column, and pages fed
sideways or upside down; and the pages real users send: a scanned PDF whose
second page is blank, a Russian page with English terms, a 100-dpi speckled
fax of 9-point print, a phone photo (keystone, desk, uneven light) and a
ruled Russian invoice table; and the pages of issue 24 (documents from the
wild): an invoice with text around two tables on grey paper, PDFs with
garbage text layers (byte-swapped UTF-16, glyphs mapped to the wrong letters,
no Unicode map) and with text drawn glyph by glyph, one-line strips of
12-pixel text, and sparse map labels among a drawing's lines; and real scans
nobody here made (tests/wild.py): a two-column leaflet of 1985 as PNG-in-PDF,
CCITT, JBIG2, skewed and turned-and-skewed PDFs, a typewriter page, a map.
Scattered labels (sparse-labels, wild-map) are scored on their words sorted.
Plain Tesseract gets each PDF page as a PNG rendered at 200 dpi (it cannot
read PDFs). OCRmyPDF (from PyPI, in its own environment: ``make bench-env``)
gets each document as it is, one process per document, ``--jobs 1``, one
document per core at most; its text is its ``--sidecar``. Each engine runs the whole set as one batch of the
OCR step (the CLI, in a process of its own), with 1 worker and with one
worker per core; seconds per page are the batch's wall time as its report
gives it (worker start-up included, the interpreter's own start not) over its
pages, the best of ``--repeat`` runs (this machine is a VM whose speed wanders
by several percent). "Plain
Tesseract" is the tesseract command (Debian's), one process per page and one
per core, OMP_THREAD_LIMIT=1, ``-l rus+eng``, default page segmentation.
Prints a table; --markdown writes it as Markdown too.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image  # noqa: E402

from ocr_task.config import available_cores  # noqa: E402
from ocr_task.contract import Report  # noqa: E402
from tests import broken_pdfs, samples, wild  # noqa: E402

KINDS = (
    "en-clean", "ru-clean", "en-scan", "ru-scan", "two-column", "rotated",
    "blank-pdf", "mixed", "fax", "photo", "table",
    "table-grey-paper", "garbage-layer", "glyph-layer", "small-image", "sparse-labels",
    "wild-leaflet", "wild-typewriter", "wild-map",
)  # fmt: skip
UNORDERED_KINDS = ("sparse-labels", "wild-map")  # labels scattered over a drawing: no reading order to score
PLAIN_LANG = "rus+eng"
WILD = {  # real scans (tests/wild.py): kind -> files, one per page of the kind
    "wild-leaflet": ("linn.pdf", "ccitt.pdf", "jbig2.pdf", "skew.pdf", "rotated_skew.pdf"),
    "wild-typewriter": ("typewriter.png",),
    "wild-map": ("baiona.png",),
}
OCRMYPDF = Path(__file__).resolve().parent.parent / ".venv-bench" / "bin" / "ocrmypdf"
OCRMYPDF_ARGS = ["--force-ocr", "--rotate-pages", "--deskew", "-l", PLAIN_LANG, "--output-type", "pdf"]


def build_pages(folder: Path, per_kind: int) -> list[tuple[str, Path, str, list[Path]]]:
    """(kind, path, text drawn, what plain Tesseract reads: the file, or a PDF's pages as PNGs) per document."""
    pages = []
    for n in range(per_kind):
        seed = 100 + n
        en = samples.render_page(samples.paragraphs("en", 6, seed), title="Quarterly Report")
        ru = samples.render_page(samples.paragraphs("ru", 6, seed + 50), title="Акт сверки расчётов")
        two = samples.render_page(samples.paragraphs("en", 8, seed + 70), columns=2, title="Company Bulletin")
        mixed = samples.render_page(samples.MIXED_RU_EN, title="Решение проблемы")
        lang = ("en", "ru")[n % 2]
        fax = samples.render_page(samples.paragraphs(lang, 5, seed), dpi=100, lang=lang, point_size=9)
        shot = samples.render_page(samples.paragraphs(lang, 4, seed), lang=lang)
        invoice = samples.invoice_page()
        made = {
            "en-clean": (en.image, en.text),
            "ru-clean": (ru.image, ru.text),
            "en-scan": (samples.scan_like(en.image, seed), en.text),
            "ru-scan": (samples.scan_like(ru.image, seed), ru.text),
            "two-column": (two.image, two.text),
            "rotated": (
                samples.turned(en.image if n % 2 == 0 else ru.image, (90, 270, 180)[n % 3]),
                en.text if n % 2 == 0 else ru.text,
            ),
            "mixed": (mixed.image, mixed.text),
            "fax": (samples.fax_like(fax, seed), fax.text),
            "photo": (samples.photo_like(shot.image, seed), shot.text),
            "table": (samples.scan_like(invoice.image, seed), invoice.text),
        }
        for kind, (image, text) in made.items():
            path = folder / f"{kind}-{n}.{'jpg' if kind == 'photo' else 'png'}"
            image.save(path, dpi=(100, 100) if kind == "fax" else (200, 200))
            pages.append((kind, path, text, [path]))
        around = samples.invoice_page(bank_table=True, note_beside=n % 2 == 1)
        grey = folder / f"table-grey-paper-{n}.png"
        samples.on_grey_paper(samples.scan_like(around.image, seed)).save(grey, dpi=(200, 200))
        pages.append(("table-grey-paper", grey, around.text, [grey]))
        small = samples.small_image([samples.ENGLISH[n % len(samples.ENGLISH)][:40]], 12, 420)
        if n % 2:
            small = samples.small_image([samples.RUSSIAN[n % len(samples.RUSSIAN)][:36]], 12, 420, lang="ru")
        strip = folder / f"small-image-{n}.png"
        small.image.save(strip)
        pages.append(("small-image", strip, small.text, [strip]))
        labels = samples.labelled_drawing(n, 20 + 3 * (n % 4), ("en", "ru")[n % 2])  # place names, Latin or Russian
        drawing = folder / f"sparse-labels-{n}.png"
        samples.scan_like(labels.image, seed).save(drawing, dpi=(200, 200))
        pages.append(("sparse-labels", drawing, labels.text, [drawing]))
        for kind, make in (
            (
                "garbage-layer",
                (broken_pdfs.swapped_utf16_pdf, broken_pdfs.wrong_map_pdf, broken_pdfs.unmapped_font_pdf)[
                    n % 3
                ],
            ),
            ("glyph-layer", lambda path, twice=n % 2 == 1: broken_pdfs.glyph_by_glyph_pdf(path, twice=twice)),
        ):
            pdf = folder / f"{kind}-{n}.pdf"
            drawn = make(pdf)
            png = folder / f"{kind}-{n}.png"
            samples.render_pdf_page(pdf, png)
            pages.append((kind, pdf, "\n".join(drawn), [png]))
        blank = Image.new("L", en.image.size, 255)
        pdf = folder / f"blank-pdf-{n}.pdf"
        samples.image_pdf([samples.scan_like(ru.image, seed), samples.scan_like(blank, seed)], pdf)
        pngs = [folder / f"blank-pdf-{n}-{i}.png" for i in range(2)]
        for png, image in zip(pngs, [samples.scan_like(ru.image, seed), samples.scan_like(blank, seed)], strict=True):
            image.save(png)
        pages.append(("blank-pdf", pdf, ru.text, pngs))
    for kind, names in WILD.items():
        for name in names:
            path = folder / f"{kind}-{name}"
            shutil.copy(wild.resources() / name, path)
            png = path
            if path.suffix == ".pdf":
                png = path.with_suffix(".png")
                samples.render_pdf_page(path, png)
            pages.append((kind, path, wild.truth(name), [png]))
    return pages


def best_of(repeat: int, measure, *args) -> tuple[float, dict[str, str]]:
    """The fastest of ``repeat`` runs of ``measure(*args)``."""
    return min((measure(*args) for _ in range(repeat)), key=lambda run: run[0])


def run_engine(engine: str, workers: int, pages, out: Path) -> tuple[float, dict[str, str]]:
    """The OCR CLI on every page, as a user runs it: seconds of the batch (from its report), each page's text."""
    command = [
        sys.executable, "-m", "ocr_task", "run", "--engine", engine, "--workers", str(workers),
        "--output", str(out), "--input", *[str(path) for _, path, _, _ in pages],
    ]  # fmt: skip
    subprocess.run(
        command, check=True, capture_output=True, env={**os.environ, "OCR_PROGRESS_SECONDS": "3600"}
    )
    report = Report.model_validate_json((out / "report.json").read_text())
    failed = [d.error for d in report.documents if d.status != "succeeded"]
    if failed:
        raise RuntimeError(f"{engine}: {failed}")
    return report.seconds, {d.source: Path(d.outputs.text).read_text() for d in report.documents}


def run_plain_tesseract(workers: int, pages) -> tuple[float, dict[str, str]]:
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def one(path: Path) -> str:
        command = ["tesseract", str(path), "stdout", "-l", PLAIN_LANG]
        return subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout

    files = [png for _, _, _, pngs in pages for png in pngs]
    seconds, read = each_file(workers, files, one)
    return seconds, {str(path): "\f".join(read[png] for png in pngs) for _, path, _, pngs in pages}


def each_file(workers: int, files: list[Path], read) -> tuple[float, dict[Path, str]]:
    """``read`` on each file, ``workers`` at a time: the seconds it took, and each file's text."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        texts = dict(zip(files, pool.map(read, files), strict=True))
    return time.perf_counter() - started, texts


def run_ocrmypdf(workers: int, pages) -> tuple[float, dict[str, str]]:
    """OCRmyPDF (its own environment: ``make bench-env``) on each document, one process per document and
    ``workers`` at a time, each with ``--jobs 1``; the text is its ``--sidecar``."""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def one(path: Path) -> str:
        sidecar, pdf = path.with_name(path.name + ".omp.txt"), path.with_name(path.name + ".omp.pdf")
        command = [str(OCRMYPDF), *OCRMYPDF_ARGS, "--jobs", "1", "--image-dpi", "200", "--sidecar", str(sidecar)]
        subprocess.run([*command, str(path), str(pdf)], capture_output=True, env=env, check=True)
        return sidecar.read_text()

    seconds, read = each_file(workers, [path for _, path, _, _ in pages], one)
    return seconds, {str(path): text for path, text in read.items()}


def page_cer(kind: str, truth: str, text: str) -> float:
    """CER; for labels scattered over a drawing, of the words in sorted order."""
    if kind in UNORDERED_KINDS:
        truth, text = (" ".join(sorted(t.split())) for t in (truth, text))
    return samples.cer(truth, text)


def cer_by_kind(pages, texts: dict[str, str]) -> dict[str, float]:
    by_kind: dict[str, list[float]] = {}
    for kind, path, truth, _ in pages:
        by_kind.setdefault(kind, []).append(page_cer(kind, truth, texts[str(path)]))
    result = {kind: sum(v) / len(v) for kind, v in by_kind.items()}
    result["mean"] = sum(page_cer(k, t, texts[str(p)]) for k, p, t, _ in pages) / len(pages)
    return result


def machine() -> str:
    import tesserocr

    cli = subprocess.run(["tesseract", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    return (
        f"{platform.system()} {platform.machine()}, {cpu}, {available_cores()} cores available, "
        f"Python {platform.python_version()}; engine Tesseract {tesserocr.tesseract_version().split()[1]} (tesserocr), "
        f"plain {cli} (Debian)"
        + (f"; OCRmyPDF {_ocrmypdf_version()}" if OCRMYPDF.exists() else "")
    )


def _ocrmypdf_version() -> str:
    return subprocess.run([str(OCRMYPDF), "--version"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages-per-kind", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each configuration; the best counts")
    parser.add_argument("--engines", default="auto,tesseract,rapidocr")
    parser.add_argument("--markdown", type=Path, help="also write the table to this Markdown file")
    args = parser.parse_args()
    cores = available_cores()
    worker_counts = sorted({1, cores})
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        pages = build_pages(Path(tmp), args.pages_per_kind)
        for engine in args.engines.split(","):
            for workers in worker_counts:
                out = Path(tmp) / f"out-{engine}-{workers}"
                seconds, texts = best_of(args.repeat, run_engine, engine, workers, pages, out)
                rows.append((engine, workers, seconds, cer_by_kind(pages, texts)))
                print(f"  {engine} with {workers} worker(s): {seconds:.1f} s", file=sys.stderr)
        for workers in worker_counts:
            seconds, texts = best_of(args.repeat, run_plain_tesseract, workers, pages)
            rows.append((f"plain tesseract -l {PLAIN_LANG}", workers, seconds, cer_by_kind(pages, texts)))
            print(f"  plain tesseract with {workers} process(es): {seconds:.1f} s", file=sys.stderr)
        if not OCRMYPDF.exists():
            print(f"  no OCRmyPDF at {OCRMYPDF} (make bench-env): its rows are left out", file=sys.stderr)
        for workers in worker_counts if OCRMYPDF.exists() else ():
            seconds, texts = best_of(args.repeat, run_ocrmypdf, workers, pages)
            rows.append((f"ocrmypdf {' '.join(OCRMYPDF_ARGS[:3])}", workers, seconds, cer_by_kind(pages, texts)))
            print(f"  ocrmypdf with {workers} process(es): {seconds:.1f} s", file=sys.stderr)

    header = ["engine", "workers", "s/document", "documents/s", *[f"CER {k}" for k in KINDS], "CER mean"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for engine, workers, seconds, cers in rows:
        cells = [engine, str(workers), f"{seconds / len(pages):.2f}", f"{len(pages) / seconds:.2f}"]
        cells += [f"{cers[k]:.2%}" for k in KINDS] + [f"{cers['mean']:.2%}"]
        lines.append("| " + " | ".join(cells) + " |")
    speedups = []
    for engine in dict.fromkeys(r[0] for r in rows):
        times = {w: s for e, w, s, _ in rows if e == engine}
        if len(times) > 1:
            speedups.append(f"{engine}: {times[1] / times[cores]:.2f}x with {cores} workers")
    text = "\n".join(
        [
            f"Machine: {machine()}",
            f"Documents: {len(pages)} (A4, 200 dpi; the fax 100 dpi; the blank-pdf two pages), "
            f"{args.pages_per_kind} per kind: {', '.join(KINDS)} (the wild kinds: all their files); "
            f"times are the best of {args.repeat} runs",
            "",
            *lines,
            "",
            "Speed-up over 1 worker: " + "; ".join(speedups),
        ]
    )
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
