"""Text boxes gathered into the lines of a page, straightened first.

A label and its value are usually two boxes on one printed line. A page photographed a few degrees
askew puts them at different heights, so the boxes are first rotated back by the page's skew (the
median slope of the wide boxes) and only then grouped by their vertical overlap.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from engine.reading.normalise import compact
from engine.reading.ocr import TextBox


@dataclass(frozen=True)
class Piece:
    """A box on a straightened page: its extent, compacted text and OCR confidence."""

    left: float
    right: float
    top: float
    bottom: float
    text: str
    score: float

    @property
    def middle(self) -> float:
        """The vertical centre."""
        return (self.top + self.bottom) / 2


@dataclass(frozen=True)
class Line:
    """The pieces of one printed line, left to right."""

    pieces: tuple[Piece, ...]

    @property
    def left(self) -> float:
        """Where the line starts."""
        return self.pieces[0].left


def skew(boxes: list[TextBox]) -> float:
    """The page's skew in radians: the median slope of the top edges of wide boxes."""
    slopes = []
    for box in boxes:
        (x0, y0), (x1, y1) = box.points[0], box.points[1]
        height = math.dist(box.points[1], box.points[2])
        if math.dist((x0, y0), (x1, y1)) > 2 * height > 0:
            slopes.append(math.atan2(y1 - y0, x1 - x0))
    return statistics.median(slopes) if slopes else 0.0


def straighten(boxes: list[TextBox]) -> list[Piece]:
    """The boxes rotated back by the page's skew, as axis-aligned pieces."""
    angle = -skew(boxes)
    cos, sin = math.cos(angle), math.sin(angle)
    pieces = []
    for box in boxes:
        text = compact(box.text)
        if not text:
            continue
        xs = [x * cos - y * sin for x, y in box.points]
        ys = [x * sin + y * cos for x, y in box.points]
        pieces.append(Piece(min(xs), max(xs), min(ys), max(ys), text, box.score))
    return pieces


def group_lines(boxes: list[TextBox]) -> list[Line]:
    """The page's lines, top to bottom; a piece joins a line when it overlaps the line's height by half."""
    pieces = sorted(straighten(boxes), key=lambda piece: piece.middle)
    lines: list[list[Piece]] = []
    for piece in pieces:
        height = piece.bottom - piece.top
        if lines:
            current = lines[-1]
            top = statistics.median(p.top for p in current)
            bottom = statistics.median(p.bottom for p in current)
            overlap = min(bottom, piece.bottom) - max(top, piece.top)
            if overlap > 0.5 * min(height, bottom - top):
                current.append(piece)
                continue
        lines.append([piece])
    return [Line(tuple(sorted(line, key=lambda p: p.left))) for line in lines]
