"""Ruled tables: found by their lines, read cell by cell, kept as rows of cells.

A table whose cells have borders is found with OpenCV (the usual
morphology: long horizontal and vertical runs of ink, then the grid they
make); each cell is cut out inside its borders and read on its own, so the
borders are never read as ``|`` and rows are never flattened into lines.
The page's other text is read with the table area blanked out. The result
is a ``table`` block with ``cells`` (rows of cell texts): a Markdown table
in ``.md``, rows of tab-separated cells in ``.txt``.

Why not img2table (which does the same, and more): it requires
``opencv-contrib-python``, which cannot be installed beside the
``opencv-python-headless`` that RapidOCR needs (both are the ``cv2``
package). Tables without borders are left to the layout-aware engine
(PaddleOCR-VL).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from ocr_task.reading_order import reading_order
from ocr_task.resolution import paper_colour
from ocr_task.result import Block, weighted_confidence

_MIN_LINE_SHARE = 0.6  # a rule spans at least this share of its table's width (or height)
_MIN_CELL_PX = 12
_PAD = 12  # white margin around a cell's crop: engines read badly right at an image's edge


@dataclass
class Grid:
    """A table's rules: x positions of its vertical lines and y positions of its horizontal ones."""

    xs: list[int]
    ys: list[int]

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        return self.xs[0], self.ys[0], self.xs[-1], self.ys[-1]


def _rules(ink: np.ndarray, length: int, horizontal: bool) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1) if horizontal else (1, length))
    return cv2.morphologyEx(ink, cv2.MORPH_OPEN, kernel)


def _positions(profile: np.ndarray, threshold: float) -> list[int]:
    """Centres of the runs where a projection profile is above ``threshold``."""
    above = profile >= threshold
    positions, start = [], None
    for i, on in enumerate(np.append(above, False)):
        if on and start is None:
            start = i
        elif not on and start is not None:
            positions.append((start + i - 1) // 2)
            start = None
    return positions


def find_tables(gray: np.ndarray) -> list[Grid]:
    """The ruled tables of an upright page: at least two rows and two columns of bordered cells."""
    ink = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 31, 15)
    height, width = gray.shape
    across = _rules(ink, max(20, width // 25), horizontal=True)
    down = _rules(ink, max(20, height // 60), horizontal=False)
    grid = cv2.dilate(across | down, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(grid, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    tables = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        if w < width // 5 or h < 2 * _MIN_CELL_PX:
            continue
        ys = _positions(across[y : y + h, x : x + w].sum(axis=1) / 255, _MIN_LINE_SHARE * w)
        xs = _positions(down[y : y + h, x : x + w].sum(axis=0) / 255, _MIN_LINE_SHARE * h)
        ys = [y + v for v in ys]
        xs = [x + v for v in xs]
        if len(xs) >= 3 and len(ys) >= 3:
            tables.append(Grid(xs, ys))
    return sorted(tables, key=lambda t: t.ys[0])


def gray_of(pixels: np.ndarray) -> np.ndarray:
    return pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)


def blank_tables(image: np.ndarray, tables: list[Grid]) -> np.ndarray:
    """The page with its tables painted over in the paper's colour, for reading the rest of its text.

    Not white: on grey paper a white patch made the binariser take the paper for ink, and the text around
    the table was lost."""
    blanked = image.copy()
    paper = paper_colour(image)
    for table in tables:
        x0, y0, x1, y1 = table.bbox
        blanked[max(0, y0 - 4) : y1 + 5, max(0, x0 - 4) : x1 + 5] = paper if image.ndim == 3 else paper[0]
    return blanked


def read_table(
    image: np.ndarray, table: Grid, read: Callable[[np.ndarray], tuple[str, float | None]]
) -> Block:
    """Each cell cut inside its borders and read with ``read``; a ``table`` block with its rows of cells."""
    rows, confidences = [], []
    inset = 8
    for top, bottom in zip(table.ys, table.ys[1:], strict=False):
        row = []
        for left, right in zip(table.xs, table.xs[1:], strict=False):
            cell = image[top + inset : bottom - inset + 1, left + inset : right - inset + 1]
            if cell.shape[0] < _MIN_CELL_PX or cell.shape[1] < _MIN_CELL_PX:
                row.append("")
                continue
            # twice the size, black on white: alone in a small grey crop, a "1", "3" or "4" is misread ("si", "33", "а")
            cell = cv2.resize(gray_of(cell), None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
            cell = cv2.threshold(cell, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[1]
            padded = cv2.copyMakeBorder(cell, _PAD, _PAD, _PAD, _PAD, cv2.BORDER_CONSTANT, value=255)
            text, confidence = read(padded)
            row.append(" ".join(text.split()))
            confidences.append((confidence, len(text.strip())))
        rows.append(row)
    return Block(
        order=0,
        label="table",
        bbox=table.bbox,
        text="\n".join("\t".join(row) for row in rows),
        confidence=weighted_confidence(confidences),
        cells=rows,
    )


def with_tables(blocks: list[Block], tables: list[Block]) -> list[Block]:
    """Table blocks put among the page's blocks in reading order (a table is one more block to the layout's
    rules: text beside it comes after it, text below it after that), the order renumbered."""
    merged = blocks + tables
    ordered = [merged[i] for i in reading_order([b.bbox for b in merged])]
    for order, block in enumerate(ordered):
        block.order = order
    return ordered
