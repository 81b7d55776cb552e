"""Page images for the Documents view: one page of a source object rendered to PNG the way the OCR step saw
it (turned upright, at the size its boxes are on), cached on disk.

The source object is streamed to a file in the cache (a megabyte at a time), never held in memory:
PDFium opens the file, Pillow reads one frame of it. The download is pinned to the catalogued ETag, so a
changed object is never shown as the page that was read.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageOps

from ocr_pipeline import layout

MAX_SIDE = 1600  # pixels of the longer side sent to the browser
MAX_RENDER_PIXELS = 60_000_000  # a page bigger than this is not rendered (a bomb, or a poster)


class PageUnavailable(Exception):
    """The page cannot be shown; the message says why."""


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


class PageImages:
    """Renders and caches pages; ``max_bytes`` bounds the cache (oldest files go first), ``max_source_bytes``
    the source objects it downloads into the api-server (a larger one is refused, not fetched)."""

    def __init__(self, hook, cache_dir: Path, max_bytes: int = 512 * 2**20, max_source_bytes: int = 200 * 2**20):
        self.hook = hook
        self.cache_dir = cache_dir
        self.max_bytes = max_bytes
        self.max_source_bytes = max_source_bytes
        (cache_dir / "pages").mkdir(parents=True, exist_ok=True)
        (cache_dir / "sources").mkdir(parents=True, exist_ok=True)

    def cached(self, source_uri: str, etag: str, result: str, index: int) -> Path | None:
        """The page's PNG if it is in the cache (a hit needs neither the source nor the JSON output).

        ``result`` names the OCR result the page is shown for (its catalog row's ``processed_at``): a
        reprocess that turned the page another way is a new result, and never gets the old image."""
        target = self._page_path(source_uri, etag, result, index)
        if not target.exists():
            return None
        target.touch()
        return target

    def png(self, source_uri: str, etag: str, result: str, page: dict) -> Path:
        """The PNG of ``page`` (a page of the result's JSON output) of the object ``source_uri`` at ``etag``."""
        if found := self.cached(source_uri, etag, result, page["index"]):
            return found
        target = self._page_path(source_uri, etag, result, page["index"])
        source = self._source(source_uri, etag)
        image = _upright(_render(source, page), page)
        _write_atomically(target, lambda path: image.save(path, format="PNG"))
        self._prune()
        return target

    def _page_path(self, source_uri: str, etag: str, result: str, index: int) -> Path:
        return self.cache_dir / "pages" / f"{_digest(source_uri, etag, result, str(index))}.png"

    def _source(self, source_uri: str, etag: str) -> Path:
        target = self.cache_dir / "sources" / _digest(source_uri, etag)
        if target.exists():
            target.touch()
            return target
        bucket, key = layout.split(source_uri)
        obj = self.hook.get_key(key, bucket_name=bucket)  # raises if the object is gone
        if obj.e_tag.strip('"') != etag.strip('"'):
            raise PageUnavailable(
                f"{source_uri} has changed since it was read (ETag {obj.e_tag.strip(chr(34))}, read at {etag})"
            )
        if obj.content_length > self.max_source_bytes:
            raise PageUnavailable(
                f"{source_uri} is {obj.content_length / 2**20:.0f} MB, more than the view downloads to show a page "
                f"({self.max_source_bytes / 2**20:.0f} MB, OCR_VIEW_MAX_SOURCE_MB); its outputs are linked below"
            )
        _write_atomically(target, lambda path: _stream(obj.get(IfMatch=obj.e_tag)["Body"], path))
        return target

    def _prune(self) -> None:
        files = [p for p in self.cache_dir.rglob("*") if p.is_file()]
        total = sum(p.stat().st_size for p in files)
        for path in sorted(files, key=lambda p: p.stat().st_mtime):
            if total <= self.max_bytes:
                break
            total -= path.stat().st_size
            path.unlink(missing_ok=True)


def _write_atomically(target: Path, write) -> None:
    """Write through a temporary file beside ``target``: a concurrent reader never sees half a file."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=target.suffix)
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)


def _stream(body, path: Path) -> None:
    with open(path, "wb") as file:
        for chunk in body.iter_chunks(2**20):
            file.write(chunk)


def _render(source: Path, page: dict) -> Image.Image:
    index = page["index"]
    with open(source, "rb") as file:
        head = file.read(5)
    if head.startswith(b"%PDF"):
        pdf = pdfium.PdfDocument(str(source))
        try:
            if index >= len(pdf):
                raise PageUnavailable(f"the PDF has no page {index + 1}")
            pdf_page = pdf[index]
            scale = MAX_SIDE / max(pdf_page.get_size())  # the size it is shown at, whatever the OCR's dpi
            return pdf_page.render(scale=scale).to_pil().convert("RGB")
        finally:
            pdf.close()
    with Image.open(source) as image:
        if image.width * image.height > MAX_RENDER_PIXELS:
            raise PageUnavailable(f"the image is {image.width}x{image.height} pixels: too big to show")
        try:
            image.seek(index)
        except EOFError as error:
            raise PageUnavailable(f"the image has no page {index + 1}") from error
        frame = ImageOps.exif_transpose(image) if image.format == "JPEG" else image
        return frame.convert("RGB")


def _upright(image: Image.Image, page: dict) -> Image.Image:
    """Turned as the OCR step turned it, with the proportions of the page its boxes are on (``width`` ×
    ``height``), at most ``MAX_SIDE`` pixels. A flattened photo is shown as it was sent: its boxes are on
    the flat page."""
    rotation = page.get("rotation") or 0
    if rotation:
        image = image.rotate(-rotation, expand=True)  # the OCR step turned it clockwise
    if not page.get("flattened") and page.get("width") and page.get("height"):
        width, height = page["width"], page["height"]
    else:
        width, height = image.size
    fit = min(1.0, MAX_SIDE / max(width, height))
    size = (max(1, round(width * fit)), max(1, round(height * fit)))
    return image if image.size == size else image.resize(size, Image.Resampling.LANCZOS)
