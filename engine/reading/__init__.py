"""Reading uploaded documents (智能预审): render, OCR, extract a layout's fields, compare with the form.

Owns: page rendering within bounds (``rendering``), the process's OCR engine (``ocr``), lines of text
(``lines``), layouts and their labels (``extraction``), normal forms (``normalise``), value kinds and
check digits (``values``), the review (``review``). Imports only ``forms`` from this project; the
worker's pre-review job calls ``review_document`` and stores ``DocumentReview.as_json()``.
"""

from __future__ import annotations

from engine.reading.review import DocumentReview, Finding, Verdict, review_document
from forms.layouts import DOCUMENT_LAYOUTS as LAYOUTS

__all__ = ["LAYOUTS", "DocumentReview", "Finding", "Verdict", "review_document"]
