"""How fast the OCR step feeds a VLM server: PaddleOCR-VL's real client against a STAND-IN vLLM server.

    .venv/bin/python bench/vl_client.py [--pages 40] [--latency 0.5] [--concurrency 0,2,4,8,16] (0: the default, 4 per core) [--service]

The stand-in (``tests/vl_standin_server.py``) answers every chat completion
after a fixed latency and has no concurrency limit, so the figures are those
of the client side alone: the OCR step (``.venv-vl``, paddleocr[doc-parser]
without PaddlePaddle, layout detection off) reads 40 single-page scans (A4 at
200 dpi, 11-point print, scanned like a cheap office scanner: tilted, noise,
blur; one page per document, the worst case) with
``OCR_VL_REC_MAX_CONCURRENCY`` client workers. Printed: pages per second of
the batch (the report's wall time, worker start included), and the requests
in flight that the server saw (max, and mean = busy time / wall time).
A real GPU server does about 1.4-2 pages/s for this model: the client must
never be what holds it back.

``--small-print`` makes the pages of the first version of this benchmark
instead: lines of Pillow's default font, letters of 8 pixels (about 3-point
print at 200 dpi), which the OCR step measures as too small and looks at
twice as large to find their orientation.

``--service`` measures the same pages as jobs of ``ocr_task serve`` (the
deployment's OCR service, whose workers stay up between batches), against a
local S3 server: the second job's pages per second, i.e. a batch without
worker start-up.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from PIL import Image, ImageDraw  # noqa: E402

from tests import samples  # noqa: E402
from tests.vl_standin_server import StandInVlmServer  # noqa: E402

VL_PYTHON = REPO / ".venv-vl" / "bin" / "python"


def build_pages(folder: Path, count: int, small_print: bool = False) -> None:
    for n in range(count):
        if small_print:
            page = Image.new("L", (1654, 2339), 200 + n % 50)
            draw = ImageDraw.Draw(page)
            for line in range(40):
                draw.text((120, 120 + line * 52), f"page {n} line {line} " * 6, fill=20)
        else:
            page = samples.scan_like(samples.render_page(samples.paragraphs("en", 6, n)).image, n)
        page.save(folder / f"scan_{n:03d}.png")


def measure(folder: Path, concurrency: int, latency: float) -> dict:
    server = StandInVlmServer(latency=latency)
    env = {
        **os.environ,
        "OCR_ENGINE": "paddleocr-vl",
        "OCR_VL_REC_BACKEND": "vllm-server",
        "OCR_VL_REC_SERVER_URL": server.url,
        "OCR_VL_USE_LAYOUT_DETECTION": "false",
        "OCR_VL_REC_MAX_CONCURRENCY": str(concurrency),
    }
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        result = subprocess.run(
            [str(VL_PYTHON), "-m", "ocr_task", "run", "--input", str(folder), "--output", out],
            env=env, capture_output=True, text=True, cwd=REPO,
        )  # fmt: skip
        wall = time.perf_counter() - started
        server.close()
        if result.returncode != 0:
            raise SystemExit(f"the OCR step failed ({result.returncode}):\n{result.stderr[-3000:]}")
        report = json.loads((Path(out) / "report.json").read_text())
    return {**figures(concurrency, report, server), "process_seconds": wall}


def figures(concurrency: int, report: dict, server: StandInVlmServer) -> dict:
    return {
        "concurrency": concurrency,
        "pages": report["summary"]["pages"],
        "seconds": report["seconds"],
        "pages_per_second": report["summary"]["pages"] / report["seconds"],
        "max_in_flight": server.max_in_flight,
        "mean_in_flight": server.busy_seconds / report["seconds"],
        # from the first request to the last answer: the client's pace once its workers are up
        "serving_seconds": server.last_answer - server.first_request,
    }


def measure_service(folder: Path, concurrency: int, latency: float) -> dict:
    from tests.conftest import start_s3_server
    from tests.service_process import Service

    s3, storage = start_s3_server()
    client = storage.client()
    client.create_bucket(Bucket="bench")
    for path in sorted(folder.iterdir()):
        client.upload_file(str(path), "bench", f"in/{path.name}")
    server = StandInVlmServer(latency=latency)
    service = Service(
        {
            **storage.env,
            "OCR_ENGINE": "paddleocr-vl",
            "OCR_VL_REC_BACKEND": "vllm-server",
            "OCR_VL_REC_SERVER_URL": server.url,
            "OCR_VL_USE_LAYOUT_DETECTION": "false",
            "OCR_VL_REC_MAX_CONCURRENCY": str(concurrency),
            "OCR_SERVICE_READ_PREFIXES": "s3://bench/",
            "OCR_SERVICE_WRITE_PREFIXES": "s3://bench/out/",
        },
        python=str(VL_PYTHON),
    )
    try:
        service.wait_for("/ready", 200, seconds=300)
        manifest = {"documents": [f"s3://bench/in/{p.name}" for p in sorted(folder.iterdir())]}
        for attempt in ("warm-up", "measured"):
            server.reset_counters()
            job = service.client.post("/v1/jobs", json={**manifest, "output": f"s3://bench/out-{attempt}/"}).json()
            job = service.wait_for_job(job["id"], seconds=600)
            if job["status"] != "succeeded":
                raise SystemExit(f"the service's job {job['status']}: {job['error']}")
    finally:
        service.stop()
        server.close()
        s3.stop()
    return figures(concurrency, job["report"], server)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--concurrency", default="1,2,4,8,16")
    parser.add_argument("--service", action="store_true", help="as jobs of a running OCR service (second job)")
    parser.add_argument("--small-print", action="store_true", help="pages of 8-pixel letters (see above)")
    args = parser.parse_args()
    if not VL_PYTHON.exists():
        raise SystemExit(f"{VL_PYTHON} is missing: run `make install`")
    with tempfile.TemporaryDirectory() as folder:
        build_pages(Path(folder), args.pages, args.small_print)
        how = measure_service if args.service else measure
        rows = [how(Path(folder), int(c), args.latency) for c in args.concurrency.split(",")]
    header = (
        "| client workers (OCR_VL_REC_MAX_CONCURRENCY) | pages | batch seconds | pages/s (batch) "
        "| pages/s (first request to last answer) | in flight: max | in flight: mean (batch) "
        "| in flight: mean (while sending) |"
    )
    where = "the OCR service's second job" if args.service else "python -m ocr_task run"
    pages = "A4 pages of 8-pixel print" if args.small_print else "A4 scans of 11-point print"
    print(f"{args.pages} single-page {pages}, {where}, stand-in latency {args.latency} s, {os.cpu_count()} cores")
    print(header)
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['concurrency']} | {row['pages']} | {row['seconds']:.1f} | {row['pages_per_second']:.1f} "
            f"| {row['pages'] / row['serving_seconds']:.1f} | {row['max_in_flight']} "
            f"| {row['mean_in_flight']:.1f} | {row['mean_in_flight'] * row['seconds'] / row['serving_seconds']:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
