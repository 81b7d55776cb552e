"""The one result model every engine produces, and its three renderings.

Coordinates are page pixels of the upright page (after any rotation was
undone), origin top-left: ``bbox = [x0, y0, x1, y1]``. Confidences are 0..1.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

SCHEMA_VERSION = "1.0"

BBox = tuple[int, int, int, int]


def weighted_confidence(scored) -> float | None:
    """The mean of ``(confidence, characters)`` pairs, weighted by characters (None: no characters)."""
    scored = [(c, n) for c, n in scored if c is not None and n]
    chars = sum(n for _, n in scored)
    return sum(c * n for c, n in scored) / chars if chars else None


@dataclass
class Line:
    bbox: BBox
    text: str
    confidence: float


@dataclass
class Block:
    order: int
    label: str  # "text", "title", or a PaddleOCR-VL label such as "table", "formula"
    bbox: BBox
    text: str
    confidence: float | None
    lines: list[Line] = field(default_factory=list)
    cells: list[list[str]] | None = None  # a ruled table read cell by cell: rows of cell texts


@dataclass
class EngineInfo:
    name: str
    version: str
    models: list[str] = field(default_factory=list)


@dataclass
class PageResult:
    index: int  # 0-based page number in the document
    width: int
    height: int
    dpi: int
    rotation: int  # degrees (0/90/180/270, clockwise) the page was turned to read it
    skew: float  # degrees of slight skew that was corrected
    source: str  # "text-layer" or "ocr"
    engine: EngineInfo
    script: str | None
    lang: str | None
    blocks: list[Block]
    timings: dict[str, float] = field(default_factory=dict)
    markdown: str | None = None  # set by engines that produce their own Markdown (PaddleOCR-VL)
    blank: bool = False  # nothing to read on the page: no text, and not a failure
    scale: float = 1  # times the page was enlarged (small text) or reduced (very large text) before reading; boxes
    # are on the page as read
    # a photo: the page's corners in it (top left, top right, bottom right, bottom left; pixels of the image as
    # stored), where it was cut out and its perspective undone (photo.flattening); the boxes are on the flat page
    flattened: list[list[float]] | None = None
    # set when a low-confidence reading made the page be read other ways up: mean confidence per rotation
    orientation_check: dict | None = None
    # set when a page read with one script's model was unsure and read again with the combined one
    language_check: dict | None = None
    # set for a PDF page with a text layer: whether the layer was used, and why (textlayer, layer_sample)
    text_layer_check: dict | None = None

    @property
    def text(self) -> str:
        return "\n\n".join(b.text for b in self.blocks if b.text)

    @property
    def mean_confidence(self) -> float | None:
        return weighted_confidence((b.confidence, len(b.text)) for b in self.blocks)


@dataclass
class DocumentResult:
    source: str
    name: str
    media_type: str
    etag: str | None
    pages: list[PageResult]
    timings: dict[str, float] = field(default_factory=dict)

    def engines(self) -> list[EngineInfo]:
        """Distinct engines used, in first-use order."""
        seen: dict[tuple[str, str], EngineInfo] = {}
        for page in self.pages:
            seen.setdefault((page.engine.name, page.engine.version), page.engine)
        return list(seen.values())

    @property
    def characters(self) -> int:
        return sum(len(p.text) for p in self.pages)

    @property
    def mean_confidence(self) -> float | None:
        return weighted_confidence((p.mean_confidence, len(p.text)) for p in self.pages)


def to_text(doc: DocumentResult) -> str:
    """Plain text: blocks separated by a blank line, pages by a form feed."""
    return "\f".join(page.text for page in doc.pages) + "\n"


_MARKDOWN_PREFIX = {"title": "# ", "doc_title": "# ", "paragraph_title": "## "}


def markdown_table(rows: list[list[str]]) -> str:
    """Rows of cells as a Markdown table, the first row as its header."""

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    header, *body = rows
    return "\n".join([line(header), "|" + "---|" * len(header), *(line(r) for r in body)])


def _block_markdown(block: Block) -> str:
    if block.cells:
        return markdown_table(block.cells)
    if block.label in ("table", "formula", "display_formula"):
        return block.text  # PaddleOCR-VL already gives HTML tables and LaTeX
    text = " ".join(line.strip() for line in block.text.splitlines() if line.strip())
    return _MARKDOWN_PREFIX.get(block.label, "") + text


def page_markdown(page: PageResult) -> str:
    if page.markdown is not None:
        return page.markdown.strip()
    return "\n\n".join(_block_markdown(b) for b in page.blocks if b.text.strip())


def to_markdown(doc: DocumentResult) -> str:
    """Markdown in reading order; each page starts with an HTML comment naming it."""
    parts = [f"<!-- page {page.index + 1} -->\n\n{page_markdown(page)}".rstrip() for page in doc.pages]
    return "\n\n".join(parts) + "\n"


def to_json_dict(doc: DocumentResult) -> dict:
    data = asdict(doc)
    data["schema_version"] = SCHEMA_VERSION
    data["engines"] = [asdict(e) for e in doc.engines()]
    for page_dict, page in zip(data["pages"], doc.pages, strict=True):
        page_dict["mean_confidence"] = page.mean_confidence
    return data


def to_json(doc: DocumentResult) -> str:
    return json.dumps(to_json_dict(doc), ensure_ascii=False, indent=1)
