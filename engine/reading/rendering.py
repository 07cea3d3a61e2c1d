"""Turning an uploaded document into page images OCR can read, within fixed bounds.

An upload is untrusted: a PDF of ten thousand pages, a page the size of a football field or an image
that claims 50 000 x 50 000 pixels must not exhaust memory or time. So only the first
``MAX_PAGES`` pages are rendered, every page is scaled to at most ``MAX_SIDE`` pixels on its long
side, and an image's size is read from its header and refused before its pixels are decoded.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps

MAX_PAGES = 3  # a licence, an ID card (two faces) or a certificate fits; the rest is not read
PDF_DPI = 200  # enough for 9-point print; OCR time grows with the pixel count
MAX_SIDE = 1600  # pixels on the long side of a page given to OCR (A4: ~140 dpi); OCR time grows with it
MIN_SIDE = 50  # an image narrower than this holds no readable document
MAX_IMAGE_PIXELS = 60_000_000  # an image header claiming more is refused before decoding
IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})
_BombWarning = Image.DecompressionBombWarning


class Unrenderable(Exception):
    """The bytes are not a document page this reader can render (or exceed its bounds)."""


def render_pages(content: bytes, media_type: str) -> list[Image.Image]:
    """The page images of a PDF, JPEG or PNG document (RGB, long side at most ``MAX_SIDE``)."""
    if media_type == "application/pdf":
        return _render_pdf(content)
    if media_type in IMAGE_TYPES:
        return [_open_image(content)]
    raise Unrenderable("unsupported media type")


def _render_pdf(content: bytes) -> list[Image.Image]:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(content)
    except pdfium.PdfiumError as exc:
        raise Unrenderable("not a readable PDF") from exc
    pages: list[Image.Image] = []
    try:
        for index in range(min(len(document), MAX_PAGES)):
            page = document[index]
            try:
                width, height = page.get_size()  # points (1/72 inch)
                if width <= 0 or height <= 0:
                    continue
                scale = min(PDF_DPI / 72, MAX_SIDE / max(width, height))
                bitmap = page.render(scale=scale)
                pages.append(bitmap.to_pil().convert("RGB"))
                bitmap.close()
            finally:
                page.close()
    except pdfium.PdfiumError as exc:
        raise Unrenderable("a PDF page does not render") from exc
    finally:
        document.close()
    if not pages:
        raise Unrenderable("the PDF has no page")
    return pages


def _open_image(content: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", _BombWarning)
            source = Image.open(io.BytesIO(content), formats=["JPEG", "PNG"])
            width, height = source.size  # from the header: nothing decoded yet
            if width * height > MAX_IMAGE_PIXELS:
                raise Unrenderable("the image is too large")
            if min(width, height) < MIN_SIDE:
                raise Unrenderable("the image is too small")
            source.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG: decode at a reduced scale when it can
            page = ImageOps.exif_transpose(source).convert("RGB")
    except (Image.DecompressionBombError, _BombWarning) as exc:  # Pillow's own bound, from the header
        raise Unrenderable("the image is too large") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise Unrenderable("not a readable image") from exc
    if max(page.size) > MAX_SIDE:
        page.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return page
