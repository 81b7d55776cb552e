"""Opening a document: recognise its type, refuse bad input early, yield its pages one at a time.

Every refusal is a :class:`DocumentError` with a message a person can act on.
Limits are checked before anything is decoded: an image's size is read from
its header, a PDF page's from its media box, so a decompression bomb is
refused without allocating its pixels. Pages are rendered and handed out one
at a time so that memory stays bounded on long documents.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
from PIL import Image, ImageOps, UnidentifiedImageError

from ocr_task.config import OcrSettings
from ocr_task.contract import EXTENSIONS, SUPPORTED
from ocr_task.errors import DocumentError
from ocr_task.textlayer import TextLayer, read_text_layer

# Pillow's own guard off, once for the process: every frame's size is checked against OCR_MAX_PIXELS from
# its header before it is decoded (``pages()``), with a message that names the setting.
Image.MAX_IMAGE_PIXELS = None

MEDIA_TYPES = {
    "pdf": "application/pdf",
    "tiff": "image/tiff",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "bmp": "image/bmp",
}
_PIL_FORMATS = {"tiff": "TIFF", "png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "bmp": "BMP"}
DEFAULT_IMAGE_DPI = 200


def sniff(head: bytes) -> str | None:
    """The document kind its first bytes show, or None."""
    if head.startswith(b"%PDF-") or b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"BM"):
        return "bmp"
    return None


@dataclass
class ImagePage:
    """A page to recognise: its pixels as stored, grayscale (H, W) or RGB (H, W, 3).

    Grayscale scans stay grayscale: a third of the bytes to move to a worker,
    and what Tesseract reads anyway.
    """

    index: int
    image: np.ndarray
    dpi: int
    text_layer: TextLayer | None = None  # a PDF page's own text layer, in this image's pixels: used if it is text


def check_size(size: int, settings: OcrSettings) -> None:
    if size == 0:
        raise DocumentError("empty file (0 bytes)")
    if size > settings.max_file_mb * 1024 * 1024:
        raise DocumentError(
            f"file is {size / 1024 / 1024:.0f} MB; the limit is {settings.max_file_mb} MB (OCR_MAX_FILE_MB)"
        )


def detect_kind(path: Path, key: str, settings: OcrSettings) -> str:
    """Check size, extension and content; return the document kind."""
    check_size(path.stat().st_size, settings)
    ext = Path(key).suffix.lower()
    if ext and ext not in EXTENSIONS:
        raise DocumentError(f"unsupported document type '{ext}'; supported types: {SUPPORTED}")
    with path.open("rb") as f:
        content = sniff(f.read(1024))
    expected = EXTENSIONS.get(ext)
    if content is None:
        if expected == "pdf":
            raise DocumentError("corrupt PDF: the file does not start with a PDF header")
        if expected:
            raise DocumentError(
                f"corrupt {expected.upper()} image: its first bytes are not a {expected.upper()} signature"
            )
        raise DocumentError(f"unrecognised content (no known file signature); supported types: {SUPPORTED}")
    if expected and content != expected:
        raise DocumentError(
            f"content does not match the extension: the file is {content.upper()}, the name says {ext}"
        )
    return content


class PdfDocument:
    kind = "pdf"

    def __init__(self, path: Path, settings: OcrSettings):
        self.settings = settings
        try:
            self.pdf = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as error:
            if "password" in str(error).lower():
                raise DocumentError("encrypted PDF: it cannot be opened without its password") from error
            raise DocumentError(f"corrupt or truncated PDF: {error}") from error
        self.page_count = len(self.pdf)
        if self.page_count == 0:
            self.close()
            raise DocumentError("corrupt or truncated PDF: no pages could be read")
        if self.page_count > settings.max_pages:
            self.close()
            raise DocumentError(
                f"PDF has {self.page_count} pages; the limit is {settings.max_pages} (OCR_MAX_PAGES)"
            )

    def pages(self) -> Iterator[ImagePage]:
        dpi = self.settings.dpi
        scale = dpi / 72
        for index in range(self.page_count):
            page = self.pdf[index]
            try:
                width_pt, height_pt = page.get_size()
                width, height = round(width_pt * scale), round(height_pt * scale)
                if width * height > self.settings.max_pixels:
                    raise DocumentError(
                        f"page {index + 1} would render to {width}x{height} pixels at {dpi} dpi; "
                        f"the limit is {self.settings.max_pixels} pixels (OCR_MAX_PIXELS)"
                    )
                layer = read_text_layer(page, scale, self.settings.min_text_layer_chars)
                try:
                    bitmap = page.render(scale=scale)
                    image = np.asarray(bitmap.to_pil().convert("RGB"))
                except pdfium.PdfiumError as error:
                    raise DocumentError(
                        f"corrupt PDF: page {index + 1} cannot be rendered: {error}"
                    ) from error
                yield ImagePage(index, image, dpi, layer)  # the layer is checked against the image (pipeline)
            finally:
                page.close()

    def close(self) -> None:
        self.pdf.close()


class ImageDocument:
    def __init__(self, path: Path, kind: str, settings: OcrSettings):
        self.settings = settings
        self.kind = kind
        label = kind.upper()
        try:
            self.image = Image.open(path)  # reads the header only
            self.page_count = getattr(self.image, "n_frames", 1)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
            raise DocumentError(f"corrupt {label} image: cannot read its header ({error})") from error
        if self.image.format != _PIL_FORMATS[kind]:
            raise DocumentError(f"corrupt {label} image: Pillow reads it as {self.image.format}")
        if self.page_count > settings.max_pages:
            self.close()
            raise DocumentError(
                f"{label} has {self.page_count} pages; the limit is {settings.max_pages} (OCR_MAX_PAGES)"
            )

    def pages(self) -> Iterator[ImagePage]:
        label = self.kind.upper()
        for index in range(self.page_count):
            try:
                self.image.seek(index)
                width, height = self.image.size
                if width * height > self.settings.max_pixels:
                    raise DocumentError(
                        f"image {'page ' + str(index + 1) + ' ' if self.page_count > 1 else ''}is "
                        f"{width}x{height} = {width * height} pixels; the limit is "
                        f"{self.settings.max_pixels} (OCR_MAX_PIXELS); refused before decoding"
                    )
                frame = ImageOps.exif_transpose(self.image) if self.kind == "jpeg" else self.image
                pixels = _gray_or_rgb(frame)
            except (OSError, SyntaxError, ValueError, EOFError) as error:
                raise DocumentError(
                    f"corrupt or truncated {label} image (page {index + 1}): {error}"
                ) from error
            dpi = self.image.info.get("dpi", (DEFAULT_IMAGE_DPI,))[0]
            yield ImagePage(index, np.asarray(pixels), int(round(float(dpi))) or DEFAULT_IMAGE_DPI)

    def close(self) -> None:
        self.image.close()


def _gray_or_rgb(image: Image.Image) -> Image.Image:
    """Grayscale for grayscale and bilevel images, RGB for the rest; transparency flattened onto white."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(paper, rgba).convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        span = max(array.max() - array.min(), 1)
        return Image.fromarray(((array - array.min()) * 255 / span).astype(np.uint8))
    return image.convert("L") if image.mode in ("1", "L") else image.convert("RGB")


def open_document(path: Path, key: str, settings: OcrSettings) -> PdfDocument | ImageDocument:
    kind = detect_kind(path, key, settings)
    if kind == "pdf":
        return PdfDocument(path, settings)
    return ImageDocument(path, kind, settings)
