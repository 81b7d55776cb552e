"""``<name>.pdf``: the document as it came, with the text we read as an invisible, selectable layer.

* **The pages as they came.** A PDF keeps its pages (content, size, rotation): the text layer is added on
  top of each page as a form XObject, nothing is re-rendered. An image (JPEG, PNG, TIFF) becomes a PDF
  with **img2pdf**, which embeds the image's own stream where PDF can hold it (a JPEG stays the same JPEG,
  a G4 TIFF stays CCITT, a PNG keeps its compressed data) at the resolution the OCR step read it at.
* **The text layer** is written by **fpdf2** (text render mode 3, invisible) in a *glyphless* font made
  for the document with **fontTools**: one empty glyph per character the document uses, mapped to its
  Unicode value, so any script comes out of the PDF as the right text (fpdf2 writes the ToUnicode map),
  and the font costs a few bytes a character. Each line is stretched over its box (the engines give
  lines; PaddleOCR-VL blocks without lines are spread line by line over the block), so selecting a word
  selects it on the image. **pikepdf** (qpdf) grafts the layer onto the pages and writes the file.
* **Geometry.** The result's boxes are on the page as it was read: turned upright, straightened and
  resized (``PageResult.rotation``, ``skew``, ``scale``). Each box is taken back through those steps to
  the page as it is stored, and through the page's own ``/Rotate``; on a photographed page, from the page
  cut out and flattened back into the photo's perspective (``flattened``: its corners). A page whose own
  text layer was used keeps it, with no second layer; blank pages have nothing to add.
"""

from __future__ import annotations

import io
import math
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ocr_task.result import Block, DocumentResult, PageResult

ASCENT, DESCENT, ADVANCE = 800, 200, 500  # the glyphless font's metrics, per 1000 units of its size


class SearchablePdfError(Exception):
    """The source could not be made into a PDF with a text layer (the document's own fault: an image
    format PDF cannot hold, a PDF that pikepdf cannot open)."""


def searchable_pdf(source: Path, kind: str, result: DocumentResult) -> bytes:
    """The PDF of ``source`` (a ``kind`` the OCR step reads) with ``result``'s text as its text layer."""
    import pikepdf

    out = io.BytesIO()
    opened = source if kind == "pdf" else io.BytesIO(_image_pdf(source, kind, result))
    with pikepdf.open(opened) as base:
        if len(base.pages) != len(result.pages):
            raise SearchablePdfError(f"the PDF has {len(base.pages)} pages and the result {len(result.pages)}")
        with pikepdf.open(io.BytesIO(_text_layer(base, result))) as text:
            for page, page_result, text_page in zip(base.pages, result.pages, text.pages, strict=True):
                if _has_layer(page_result):
                    _graft(page, pikepdf.Page(text_page))
            base.save(out, compress_streams=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    return out.getvalue()


def _image_pdf(source: Path, kind: str, result: DocumentResult) -> bytes:
    """The image as PDF pages at the resolution it was read at (its first page's: the frames of one TIFF
    share it in practice), its stream kept where PDF can hold it."""
    import img2pdf
    from PIL import Image

    dpi = result.pages[0].dpi if result.pages else 300
    layout = img2pdf.get_fixed_dpi_layout_fun((dpi, dpi))
    try:
        return img2pdf.convert(str(source), layout_fun=layout, rotation=img2pdf.Rotation.ifvalid)
    except img2pdf.AlphaChannelError:  # PDF has no alpha in an image: flattened onto white, re-encoded
        with Image.open(source) as image:
            flat = Image.new("RGB", image.size, "white")
            flat.paste(image, mask=image.convert("RGBA").getchannel("A"))
            buffer = io.BytesIO()
            flat.save(buffer, "PNG", dpi=(dpi, dpi))
        return img2pdf.convert(buffer.getvalue(), layout_fun=layout)
    except (img2pdf.ImageOpenError, ValueError, OSError) as error:
        raise SearchablePdfError(f"the {kind} image cannot be put in a PDF: {error}") from error


def _has_layer(page: PageResult) -> bool:
    return page.source == "ocr" and not page.blank and bool(page.text.strip())


def _graft(page, text_page) -> None:
    """Draw ``text_page`` (one page of the layer, the size of ``page``'s crop box) over ``page``."""
    import pikepdf

    x0, y0 = (float(v) for v in page.cropbox[:2])
    name = page.add_resource(text_page.as_form_xobject(), pikepdf.Name.XObject, prefix="OCR")
    operators = [([], pikepdf.Operator("q")), ([1, 0, 0, 1, x0, y0], pikepdf.Operator("cm")),
                 ([name], pikepdf.Operator("Do")), ([], pikepdf.Operator("Q"))]  # fmt: skip
    page.contents_add(pikepdf.unparse_content_stream(operators), prepend=False)


def _text_layer(base, result: DocumentResult) -> bytes:
    """One PDF page per page of ``base``, each its crop box's size (unrotated), holding the page's lines."""
    from fpdf import FPDF
    from fpdf.enums import TextMode

    characters = {c for page in result.pages if _has_layer(page) for c in page.text if c.isprintable()}
    pdf = FPDF(unit="pt")
    pdf.set_auto_page_break(False)
    pdf.set_margin(0)
    with tempfile.TemporaryDirectory(prefix="glyphless-") as folder:
        font = Path(folder) / "glyphless.ttf"
        font.write_bytes(glyphless_font(characters | {" "}))
        pdf.add_font("glyphless", fname=str(font))
        for page, page_result in zip(base.pages, result.pages, strict=True):
            box = [float(v) for v in page.cropbox]
            geometry = _PageGeometry(page_result, box[2] - box[0], box[3] - box[1], int(page.obj.get("/Rotate", 0)))
            pdf.add_page(format=(geometry.width, geometry.height))
            if not _has_layer(page_result):
                continue
            pdf.text_mode = TextMode.INVISIBLE
            for bbox, text in _lines(page_result.blocks):
                _draw(pdf, geometry, bbox, text)
        return bytes(pdf.output())


def _lines(blocks: list[Block]) -> Iterator[tuple[tuple[float, float, float, float], str]]:
    """Each line's box and text in reading order; a block without lines (PaddleOCR-VL) spread line by line."""
    for block in blocks:
        if block.lines:
            yield from ((line.bbox, line.text) for line in block.lines if line.text.strip())
            continue
        texts = [t for t in block.text.splitlines() if t.strip()]
        x0, y0, x1, y1 = block.bbox
        band = (y1 - y0) / max(len(texts), 1)
        for i, text in enumerate(texts):
            # at the top of its band, no taller than its characters are wide: a short answer over a tall block
            # would otherwise be one huge line, whose spaces viewers no longer see between its words
            height = min(band, 2 * (x1 - x0) / len(text.strip()))
            yield (x0, y0 + i * band, x1, y0 + i * band + height), text


def _draw(pdf, geometry: _PageGeometry, bbox, text: str) -> None:
    text = "".join(c for c in text if c.isprintable()).strip()
    x0, y0, x1, y1 = bbox
    bottom_left, bottom_right, top_left = (geometry.to_page(x, y) for x, y in ((x0, y1), (x1, y1), (x0, y0)))
    height = math.dist(bottom_left, top_left)
    width = math.dist(bottom_left, bottom_right)
    if not text or height < 0.5 or width < 0.5:
        return
    up = ((top_left[0] - bottom_left[0]) / height, (top_left[1] - bottom_left[1]) / height)
    origin = (bottom_left[0] + up[0] * height * DESCENT / 1000, bottom_left[1] + up[1] * height * DESCENT / 1000)
    # the page's y axis points down: a counter-clockwise angle on the page is the negative of atan2's
    angle = -math.degrees(math.atan2(bottom_right[1] - bottom_left[1], bottom_right[0] - bottom_left[0]))
    pdf.set_font("glyphless", size=height)
    pdf.set_stretching(100)  # fpdf2 measures a string at the current stretching
    pdf.set_stretching(100 * width / pdf.get_string_width(text))
    with pdf.rotation(angle, *origin):
        pdf.text(*origin, text)


class _PageGeometry:
    """From the result's boxes (the page as read) to the stored page's unrotated crop box, in points with
    the origin at its top left (fpdf2's coordinates)."""

    def __init__(self, page: PageResult, width: float, height: float, rotate: int):
        from ocr_task.orientation import straighten_matrix
        from ocr_task.photo import flattening

        self.page, self.width, self.height, self.rotate = page, width, height, rotate % 360
        visual = (height, width) if self.rotate in (90, 270) else (width, height)
        self.pixels_per_point = page.dpi / 72
        w, h = visual[0] * self.pixels_per_point, visual[1] * self.pixels_per_point
        self.unflatten = None
        if page.flattened:  # read as the page cut out of the photo: back into the photo's perspective
            flattening_matrix, (w, h) = flattening(np.float32(page.flattened))
            self.unflatten = np.linalg.inv(flattening_matrix)
        self.scale = page.scale or 1
        if self.scale < 1:  # reduced first, then turned and straightened
            w, h = w * self.scale, h * self.scale
        self.turned_from = (w, h)  # the page's size before it was turned upright
        upright = (h, w) if page.rotation in (90, 270) else (w, h)
        # the straightening's inverse, worked out once a page
        self.unstraighten = (
            _inverse_affine(straighten_matrix(round(upright[0]), round(upright[1]), page.skew)[0]) if page.skew else None
        )

    def to_page(self, x: float, y: float) -> tuple[float, float]:
        vx, vy = self._as_stored(x, y)
        vx, vy = vx / self.pixels_per_point, vy / self.pixels_per_point
        w, h = self.width, self.height
        return {0: (vx, vy), 90: (vy, h - vx), 180: (w - vx, h - vy), 270: (w - vy, vx)}[self.rotate]

    def _as_stored(self, x: float, y: float) -> tuple[float, float]:
        """Undo the reading's steps in reverse: enlargement, straightening, turning upright, reduction,
        flattening."""
        if self.scale > 1:
            x, y = x / self.scale, y / self.scale
        if self.unstraighten is not None:
            x, y = self.unstraighten @ np.array([x, y, 1.0])
        w, h = self.turned_from
        x, y = {0: (x, y), 90: (w - y, x), 180: (w - x, h - y), 270: (y, h - x)}[self.page.rotation % 360]
        if self.scale < 1:
            x, y = x / self.scale, y / self.scale
        if self.unflatten is not None:
            px, py, pz = self.unflatten @ np.array([x, y, 1.0])
            x, y = px / pz, py / pz
        return float(x), float(y)


def _inverse_affine(matrix: np.ndarray) -> np.ndarray:
    full = np.vstack([matrix, [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def glyphless_font(characters: set[str]) -> bytes:
    """A TrueType font with a glyph for each of ``characters``, every one the same plain box (as wide as
    ``ADVANCE``, as tall as the font): drawn invisibly (render mode 3) it shows nothing, and its ToUnicode
    map (which fpdf2 writes from the font's cmap) makes it the right text. The box is not empty on purpose:
    PDFium's text extraction skips turned text whose glyphs have no extent."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    codes = sorted(ord(c) for c in characters)
    names = [".notdef", *(f"u{code:05X}" for code in codes)]
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap({code: f"u{code:05X}" for code in codes})
    pen = TTGlyphPen(None)
    pen.moveTo((0, -DESCENT))
    pen.lineTo((0, ASCENT))
    pen.lineTo((ADVANCE, ASCENT))
    pen.lineTo((ADVANCE, -DESCENT))
    pen.closePath()
    box = pen.glyph()
    builder.setupGlyf({name: box for name in names})
    builder.setupHorizontalMetrics({name: (ADVANCE, 0) for name in names})
    builder.setupHorizontalHeader(ascent=ASCENT, descent=-DESCENT)
    builder.setupNameTable({"familyName": "OCR GlyphLess", "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=ASCENT, sTypoDescender=-DESCENT, usWinAscent=ASCENT, usWinDescent=DESCENT)
    builder.setupPost()
    out = io.BytesIO()
    builder.save(out)
    return out.getvalue()
