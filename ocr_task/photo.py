"""Pages photographed rather than scanned: the page found on the desk, its perspective undone, its light evened.

The page is the largest bright quadrilateral in the picture (OpenCV's
contours on a downscaled copy, approximated to four corners). Only a page
with the desk visible around it counts as a photo: a flat scan, whose page
fills the image, is never touched. The page is warped to a rectangle of its
own size, and its uneven light (a phone's shadow, a lamp to one side) is
divided out by an estimate of the bare paper's brightness.
"""

from __future__ import annotations

import cv2
import numpy as np

_WORK_WIDTH = 800  # the outline is looked for on a copy this wide
_MIN_PAGE_SHARE = 0.2  # of the picture's area
_MAX_PAGE_SHARE = 0.9  # above this the page fills the picture: a scan, left alone


def page_corners(gray: np.ndarray) -> np.ndarray | None:
    """The page's four corners (top-left, top-right, bottom-right, bottom-left) in a photo; None for a scan."""
    scale = _WORK_WIDTH / gray.shape[1]
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (5, 5), 0)
    _, bright = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    bright = cv2.morphologyEx(bright, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))  # the text is part of the page
    contours, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    outline = max(contours, key=cv2.contourArea)
    share = cv2.contourArea(outline) / (small.shape[0] * small.shape[1])
    if not _MIN_PAGE_SHARE <= share <= _MAX_PAGE_SHARE:
        return None
    corners = cv2.approxPolyDP(outline, 0.02 * cv2.arcLength(outline, True), True)
    if len(corners) != 4 or not cv2.isContourConvex(corners):
        return None
    return _ordered(corners.reshape(4, 2).astype(np.float32) / scale)


def _ordered(points: np.ndarray) -> np.ndarray:
    sums, differences = points.sum(axis=1), np.diff(points, axis=1).ravel()
    return np.float32(
        [points[sums.argmin()], points[differences.argmin()], points[sums.argmax()], points[differences.argmax()]]
    )


def flattening(corners: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """The perspective transform that takes the page at ``corners`` of a photo to an upright rectangle as large
    as its longest edges, and that rectangle's size (width, height)."""
    top_left, top_right, bottom_right, bottom_left = corners
    width = round(max(np.linalg.norm(top_right - top_left), np.linalg.norm(bottom_right - bottom_left)))
    height = round(max(np.linalg.norm(bottom_left - top_left), np.linalg.norm(bottom_right - top_right)))
    target = np.float32([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]])
    return cv2.getPerspectiveTransform(np.float32(corners), target), (width, height)


def flattened(image: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """The page cut out of the photo and warped to a rectangle (``flattening``)."""
    matrix, size = flattening(corners)
    return cv2.warpPerspective(image, matrix, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def evenly_lit(gray: np.ndarray) -> np.ndarray:
    """The page divided by its paper's brightness (the text closed away, then smoothed): white paper, dark ink."""
    small = cv2.resize(gray, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)  # light varies slowly
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9))
    paper = cv2.GaussianBlur(cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel), (0, 0), 4)
    paper = cv2.resize(paper, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_LINEAR)
    return np.clip(gray.astype(np.float32) / np.maximum(paper, 1) * 255, 0, 255).astype(np.uint8)


def unphotographed(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The page as if scanned and its corners in the photo, or None when the image is not a photo of a page."""
    corners = page_corners(gray)
    if corners is None:
        return None
    return evenly_lit(flattened(gray, corners)), corners
