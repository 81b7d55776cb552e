"""Documents that must be refused, each with the message it must be refused with."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image

from tests import samples


def png_bomb(width: int = 60_000, height: int = 60_000) -> bytes:
    """A valid PNG header promising 3.6 gigapixels; decoding it would exhaust memory."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" + b"\xff" * width)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def encrypted_pdf(path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="confidential")
    pdf.set_encryption(owner_password="owner", user_password="reader")
    pdf.output(str(path))


def write_bad_inputs(folder: Path, good_png: Path) -> dict[str, str]:
    """Bad documents in ``folder``: file name -> a part of the error it must get."""
    png = good_png.read_bytes()
    page = Image.open(good_png)
    pdf_buffer = io.BytesIO()
    page.convert("RGB").save(pdf_buffer, format="PDF")
    files = {
        "empty.pdf": (b"", "empty file (0 bytes)"),
        "truncated.png": (png[: len(png) // 3], "corrupt or truncated PNG image"),
        "truncated.pdf": (
            pdf_buffer.getvalue()[: len(pdf_buffer.getvalue()) // 2],
            "corrupt or truncated PDF",
        ),
        "garbage.pdf": (
            b"this is not a PDF at all\n" * 40,
            "corrupt PDF: the file does not start with a PDF header",
        ),
        "photo.jpg": (png, "content does not match the extension: the file is PNG, the name says .jpg"),
        "notes.docx": (
            b"PK\x03\x04 a word document",
            "unsupported document type '.docx'; supported types: PDF, TIFF",
        ),
        "bomb.png": (png_bomb(), "the limit is 100000000 (OCR_MAX_PIXELS); refused before decoding"),
    }
    for name, (data, _) in files.items():
        (folder / name).write_bytes(data)
    encrypted_pdf(folder / "encrypted.pdf")
    samples.image_pdf([page] * 4, folder / "long.pdf")
    expected = {name: message for name, (_, message) in files.items()}
    expected["encrypted.pdf"] = "encrypted PDF: it cannot be opened without its password"
    expected["long.pdf"] = "PDF has 4 pages; the limit is 3 (OCR_MAX_PAGES)"
    return expected
