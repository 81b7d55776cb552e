"""Reading order: recognised lines grouped into blocks and ordered as a person reads them.

Engines give lines (a box and a text). Lines that sit one under another in
the same column with ordinary line spacing form a block (a paragraph);
blocks are then ordered with Breuel's rules for reading order (T. Breuel,
"High performance document layout analysis", 2003):

1. a block comes before another it overlaps horizontally and lies above;
2. a block comes before one entirely to its right, unless a third block
   lying vertically between them overlaps both horizontally (a heading or
   rule that spans the columns separates two column sections).

A topological sort of that partial order, ties broken top-to-bottom then
left-to-right, reads column by column within each section.
"""

from __future__ import annotations

import heapq
from statistics import median

import numpy as np

from ocr_task.result import BBox, Block, Line, weighted_confidence

# A line joins the block above it when the vertical gap is at most this many line heights.
_MAX_LINE_GAP = 0.9
# ...and its height is within this ratio of the block's last line.
_MAX_HEIGHT_RATIO = 1.4
# A block of at most this many lines, this much taller than the page's body text, is a title.
_TITLE_HEIGHT_RATIO = 1.35
_TITLE_MAX_LINES = 2


def _height(box: BBox) -> int:
    return max(1, box[3] - box[1])


def _x_overlap(a: BBox, b: BBox) -> int:
    return min(a[2], b[2]) - max(a[0], b[0])


def union_box(boxes: list[BBox]) -> BBox:
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def group_lines(lines: list[Line]) -> list[list[Line]]:
    """Group lines into paragraph blocks, each block's lines top to bottom."""
    groups: list[list[Line]] = []
    for line in sorted(lines, key=lambda ln: (ln.bbox[1], ln.bbox[0])):
        best, best_gap = None, None
        for group in groups:
            last = group[-1]
            h = max(_height(last.bbox), _height(line.bbox))
            ratio = _height(line.bbox) / _height(last.bbox)
            if not (1 / _MAX_HEIGHT_RATIO <= ratio <= _MAX_HEIGHT_RATIO):
                continue
            gap = line.bbox[1] - last.bbox[3]
            if gap > _MAX_LINE_GAP * h or gap < -0.5 * h:
                continue
            overlap = _x_overlap(line.bbox, union_box([ln.bbox for ln in group]))
            narrower = min(line.bbox[2] - line.bbox[0], last.bbox[2] - last.bbox[0])
            if overlap < 0.5 * max(1, narrower):
                continue
            if best_gap is None or gap < best_gap:
                best, best_gap = group, gap
        if best is None:
            groups.append([line])
        else:
            best.append(line)
    return groups


def _precedence(boxes: np.ndarray) -> np.ndarray:
    """before[a, b] is True when block a must be read before block b."""
    x0, y0, x1, y1 = boxes.T
    yc = (y0 + y1) / 2
    overlap = np.minimum(x1[:, None], x1[None, :]) - np.maximum(x0[:, None], x0[None, :])
    above = overlap > 0
    above &= yc[:, None] < yc[None, :]
    left_of = x1[:, None] <= x0[None, :]
    before = above.copy()
    n = len(boxes)
    for a in range(n):
        for b in np.nonzero(left_of[a])[0]:
            lo, hi = sorted((yc[a], yc[b]))
            between = (yc > lo) & (yc < hi) & (overlap[:, a] > 0) & (overlap[:, b] > 0)
            between[[a, b]] = False
            if not between.any():
                before[a, b] = True
    return before


def reading_order(boxes: list[BBox]) -> list[int]:
    """Indices of ``boxes`` in reading order."""
    n = len(boxes)
    if n < 2:
        return list(range(n))
    before = _precedence(np.array(boxes, dtype=float))
    indegree = before.sum(axis=0).tolist()
    key = [(b[1], b[0], i) for i, b in enumerate(boxes)]
    ready = [key[i] for i in range(n) if indegree[i] == 0]
    heapq.heapify(ready)
    done = [False] * n
    order: list[int] = []
    while len(order) < n:
        if not ready:  # a cycle from overlapping boxes: take the top-left remaining block
            ready = [min(key[i] for i in range(n) if not done[i])]
        *_, i = heapq.heappop(ready)
        if done[i]:
            continue
        done[i] = True
        order.append(i)
        for j in np.nonzero(before[i])[0]:
            indegree[j] -= 1
            if indegree[j] == 0 and not done[j]:
                heapq.heappush(ready, key[j])
    return order


def build_blocks(lines: list[Line]) -> list[Block]:
    """Lines from any engine to ordered, labelled blocks."""
    lines = [ln for ln in lines if ln.text.strip()]
    if not lines:
        return []
    body_height = median(_height(ln.bbox) for ln in lines)
    groups = group_lines(lines)
    boxes = [union_box([ln.bbox for ln in g]) for g in groups]
    blocks = []
    for order, i in enumerate(reading_order(boxes)):
        group = groups[i]
        is_title = (
            len(group) <= _TITLE_MAX_LINES
            and median(_height(ln.bbox) for ln in group) >= _TITLE_HEIGHT_RATIO * body_height
        )
        blocks.append(
            Block(
                order=order,
                label="title" if is_title else "text",
                bbox=boxes[i],
                text="\n".join(ln.text for ln in group),
                confidence=weighted_confidence((ln.confidence, len(ln.text)) for ln in group),
                lines=group,
            )
        )
    return blocks
