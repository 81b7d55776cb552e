"""Reading order on line boxes laid out like real pages."""

from __future__ import annotations

from ocr_task.reading_order import build_blocks, reading_order
from ocr_task.result import Line


def column(x0: int, x1: int, y0: int, count: int, label: str, height: int = 30, step: int = 42) -> list[Line]:
    return [Line((x0, y0 + i * step, x1, y0 + i * step + height), f"{label}{i}", 0.9) for i in range(count)]


def texts(blocks) -> list[str]:
    return [line.text for block in blocks for line in block.lines]


def test_two_columns_are_read_left_column_first():
    left = column(200, 780, 400, 10, "L")
    right = column(880, 1450, 400, 10, "R")
    blocks = build_blocks(right + left)  # engines may give lines in any order
    assert texts(blocks) == [f"L{i}" for i in range(10)] + [f"R{i}" for i in range(10)]


def test_title_then_columns_then_footer():
    title = [Line((200, 100, 1200, 160), "Title", 0.9)]
    left = column(200, 780, 300, 5, "L")
    right = column(880, 1450, 300, 5, "R")
    footer = [Line((200, 1000, 1450, 1030), "Footer", 0.9)]
    blocks = build_blocks(footer + right + title + left)
    assert texts(blocks) == ["Title", *[f"L{i}" for i in range(5)], *[f"R{i}" for i in range(5)], "Footer"]
    assert blocks[0].label == "title" and blocks[1].label == "text"


def test_a_spanning_heading_separates_two_column_sections():
    section_1 = column(200, 780, 100, 4, "A") + column(880, 1450, 100, 4, "B")
    heading = [Line((200, 400, 1450, 440), "Heading", 0.9)]
    section_2 = column(200, 780, 520, 4, "C") + column(880, 1450, 520, 4, "D")
    order = texts(build_blocks(section_2 + heading + section_1))
    expected = (
        [f"{c}{i}" for c in "AB" for i in range(4)]
        + ["Heading"]
        + [f"{c}{i}" for c in "CD" for i in range(4)]
    )
    assert order == expected


def test_paragraph_gaps_split_blocks():
    lines = column(200, 1400, 100, 3, "P") + column(200, 1400, 260, 3, "Q")
    blocks = build_blocks(lines)
    assert [b.text for b in blocks] == ["P0\nP1\nP2", "Q0\nQ1\nQ2"]
    assert blocks[0].bbox == (200, 100, 1400, 214)


def test_block_confidence_is_weighted_by_characters():
    lines = [Line((0, 0, 100, 30), "aaaa", 1.0), Line((0, 40, 100, 70), "b", 0.5)]
    (block,) = build_blocks(lines)
    assert block.confidence == (4 * 1.0 + 1 * 0.5) / 5


def test_reading_order_of_nothing_and_one():
    assert reading_order([]) == [] and reading_order([(0, 0, 1, 1)]) == [0]
    assert build_blocks([Line((0, 0, 10, 10), "  ", 0.9)]) == []
