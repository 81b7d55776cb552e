"""Command line of the OCR step.

    python -m ocr_task run --input SRC [SRC ...] --output DEST [--engine ENGINE] [--lang LANGS]
    python -m ocr_task run --manifest MANIFEST --output DEST ...
    python -m ocr_task models check|fetch --dest DIR
    python -m ocr_task serve [--host H] [--port P]

Exit codes of ``run``: 0 every document succeeded; 3 the batch ran but some
documents failed (see the report); 2 usage error; 1 the batch itself could
not run (storage unreachable, engine cannot load) — the only one worth a retry.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from pydantic import ValidationError

from ocr_task.contract import EXIT_BATCH_FAILED, EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE
from ocr_task.engines import engine_names

log = logging.getLogger("ocr_task")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ocr_task", description="OCR of scanned documents")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="OCR a batch of documents")
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--input", nargs="+", metavar="SRC", help="files, folders, s3://bucket/key or s3://bucket/prefix/"
    )
    source.add_argument("--manifest", metavar="MANIFEST", help="JSON manifest, local or s3://")
    run.add_argument("--output", metavar="DEST", help="output folder or s3:// prefix")
    run.add_argument("--report", metavar="URI", help="where to write the report (default DEST/report.json)")
    run.add_argument("--engine", choices=engine_names(), help="default: auto (OCR_ENGINE)")
    run.add_argument("--lang", help="language hint, e.g. rus+eng (OCR_LANG)")
    run.add_argument("--dpi", type=int, help="PDF rendering resolution (OCR_DPI, default 200)")
    run.add_argument("--workers", type=int, help="worker processes (OCR_WORKERS, default: cores available)")
    run.add_argument("--max-pages", type=int, help="page limit per document (OCR_MAX_PAGES)")
    run.add_argument("--max-pixels", type=int, help="pixel limit per page (OCR_MAX_PIXELS)")

    models = commands.add_parser("models", help="PaddleOCR-VL models for offline use")
    models_commands = models.add_subparsers(dest="models_command", required=True)
    models_commands.add_parser("check", help="say which models the configuration needs and which are missing")
    fetch = models_commands.add_parser("fetch", help="download the models into DIR (needs internet)")
    fetch.add_argument("--dest", required=True, type=Path)
    fetch.add_argument("--pipeline-version", choices=["v1", "v1.5", "v1.6"])

    serve = commands.add_parser("serve", help="HTTP service that keeps the engine loaded")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=8081)
    return parser


def _settings(args):
    from ocr_task.config import OcrSettings

    overrides = {
        "engine": args.engine,
        "lang": args.lang,
        "dpi": args.dpi,
        "workers": args.workers,
        "max_pages": args.max_pages,
        "max_pixels": args.max_pixels,
    }
    return OcrSettings(**{k: v for k, v in overrides.items() if v is not None})


def _plan(args, storage):
    """Documents, output, report destination and settings from the arguments; ValueError on anything unusable."""
    from ocr_task.contract import REPORT_NAME, Manifest, ManifestDocument
    from ocr_task.errors import DocumentError
    from ocr_task.storage import join

    output, report = args.output, args.report
    if args.manifest:
        try:
            manifest = Manifest.model_validate_json(storage.read_bytes(args.manifest))
        except (ValidationError, DocumentError, OSError) as error:
            raise ValueError(f"cannot use manifest {args.manifest}: {error}") from error
        output = output or manifest.output
        report = report or manifest.report
        args.engine = args.engine or manifest.engine
        args.lang = args.lang or manifest.lang
        items = manifest.documents
    else:
        items = [ManifestDocument(source=uri) for src in args.input for uri in storage.expand(src)]
    if not output:
        raise ValueError("--output is required (or an 'output' in the manifest)")
    try:
        settings = _settings(args)
    except ValidationError as error:
        raise ValueError(str(error)) from error
    _check_lang(settings)
    return items, output, report or join(output, REPORT_NAME), settings


def _run(args) -> int:
    from ocr_task.errors import BatchError, DocumentUnreachable
    from ocr_task.runner import BatchRunner
    from ocr_task.storage import Storage

    storage = Storage()
    try:
        items, output, report_uri, settings = _plan(args, storage)
    except ValueError as error:
        print(f"ocr_task: usage error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (BatchError, DocumentUnreachable) as error:  # the manifest could not be read: not its fault
        print(f"ocr_task: batch stopped: {error}", file=sys.stderr)
        return EXIT_BATCH_FAILED
    try:
        report = BatchRunner(settings, storage).run(items, output, report_uri)
    except BatchError as error:
        print(f"ocr_task: batch stopped: {error}", file=sys.stderr)
        return EXIT_BATCH_FAILED
    summary = report.summary
    print(
        f"{summary.succeeded} of {summary.documents} documents succeeded, {summary.failed} failed, "
        f"{summary.pages} pages in {report.seconds:.1f} s; report: {report_uri}"
    )
    return EXIT_SOME_FAILED if summary.failed else EXIT_OK


def _check_lang(settings) -> None:
    """An explicit Tesseract language that is not installed is a usage error, not worth retrying."""
    from ocr_task.engines.auto import hint_is_cjk
    from ocr_task.errors import EngineUnavailable
    from ocr_task.tessdata import check_languages, find_tessdata

    if settings.lang and settings.engine in ("auto", "tesseract") and not hint_is_cjk(settings.lang):
        try:
            check_languages(settings.lang, find_tessdata(settings.tessdata_dir))
        except EngineUnavailable as error:
            raise ValueError(str(error)) from error


def _models(args) -> int:
    from ocr_task import provisioning
    from ocr_task.config import VlSettings

    vl = VlSettings(
        **({"pipeline_version": args.pipeline_version} if getattr(args, "pipeline_version", None) else {})
    )
    if args.models_command == "fetch":
        try:
            written = provisioning.fetch(args.dest, vl)
        except provisioning.FetchError as error:
            print(f"ocr_task: {error}", file=sys.stderr)
            return EXIT_BATCH_FAILED
        for path in written:
            print(path)
        print(f"Models are in {args.dest}; on the OCR host set OCR_VL_MODELS_HOME={args.dest}")
        return EXIT_OK
    required = provisioning.required_models(vl)
    print(
        json.dumps(
            [{"model": m.name, "dir": str(m.directory), "present": m.present} for m in required], indent=1
        )
    )
    missing = [m for m in required if not m.present]
    if missing:
        print(provisioning.missing_models_message(missing), file=sys.stderr)
        return EXIT_BATCH_FAILED
    return EXIT_OK


def _serve(args) -> int:
    from ocr_task.service import serve

    serve(args.host, args.port)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # one line per page sent to a VLM server otherwise; fontTools: some twenty lines per searchable PDF's font
    for chatty in ("httpx", "httpx2", "openai", "fontTools"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "models":
        return _models(args)
    return _serve(args)


if __name__ == "__main__":
    sys.exit(main())
