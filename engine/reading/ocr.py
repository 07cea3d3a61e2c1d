"""The OCR engine: RapidOCR (PP-OCRv4 models shipped inside its wheel), built once per process.

Building the engine loads three ONNX models (about a second), so it is built lazily on the first page
and kept; one lock serialises the calls because RapidOCR's pipeline objects keep per-call state. No
text read here is ever logged: it is the applicant's personal data.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from PIL.Image import Image

_lock = threading.Lock()
_engine: Any = None


@dataclass(frozen=True)
class TextBox:
    """One piece of text OCR found: its corner points (clockwise from top-left), text and confidence."""

    points: tuple[tuple[float, float], ...]
    text: str
    score: float


def _get_engine() -> Any:
    """The process's RapidOCR engine (callers hold ``_lock``)."""
    global _engine
    if _engine is None:
        from rapidocr_onnxruntime import RapidOCR  # imported late: it loads onnxruntime

        # One thread per model: the worker shares two cores with the web server, and on a loaded
        # machine one thread read a page faster than two fighting for a core (measured: 9 s vs 15 s).
        _engine = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)
    return _engine


def read_text(image: Image) -> list[TextBox]:
    """Every piece of text OCR finds on one page image (RGB), in no particular order."""
    pixels = np.asarray(image.convert("RGB"))[:, :, ::-1]  # RapidOCR works on OpenCV's BGR order
    with _lock:
        result, _elapsed = _get_engine()(np.ascontiguousarray(pixels))
    boxes: list[TextBox] = []
    for points, text, score in result or ():
        corners = tuple((float(x), float(y)) for x, y in points)
        boxes.append(TextBox(corners, str(text), float(score)))
    return boxes
