"""Reading PDFs as a person and a phone would: the text (pypdf) and the QR code on page 1 (pdfium, zxing)."""

from __future__ import annotations

import io

import pypdf
import pypdfium2
import zxingcpp


def pdf_text(content: bytes) -> str:
    """Every page's extractable text, joined (what copying from a PDF reader gives)."""
    reader = pypdf.PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def pdf_pages(content: bytes) -> int:
    """How many pages the PDF has."""
    return len(pypdf.PdfReader(io.BytesIO(content)).pages)


def qr_codes(content: bytes) -> list[str]:
    """The texts of the QR codes found on page 1, rendered at 144 dpi as a phone camera would see it."""
    document = pypdfium2.PdfDocument(content)
    try:
        image = document[0].render(scale=2).to_pil()
    finally:
        document.close()
    return [
        found.text for found in zxingcpp.read_barcodes(image) if found.format == zxingcpp.BarcodeFormat.QRCode
    ]
