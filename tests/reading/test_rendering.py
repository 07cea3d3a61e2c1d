"""Hostile and odd uploads: bounded rendering, and an ``unreadable`` answer instead of a crash."""

from __future__ import annotations

import io
import resource
import struct
import time
import zlib

import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageFile

from engine.reading import review_document
from engine.reading.rendering import MAX_PAGES, MAX_SIDE, Unrenderable, render_pages
from forms.catalog import MaterialReading

READS = MaterialReading("business-licence", {"name": "company_name"})
FORM = {"company_name": "上海华盛科技有限公司"}


def blank_pdf(pages: int, width: float = 595, height: float = 842) -> bytes:
    document = pdfium.PdfDocument.new()
    for _ in range(pages):
        document.new_page(width, height)
    out = io.BytesIO()
    document.save(out)
    document.close()
    return out.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims a size its few bytes of data never fill."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_pdf_of_five_thousand_pages_renders_only_its_first_pages_and_is_unreadable() -> None:
    bomb = blank_pdf(5000)
    pages = render_pages(bomb, "application/pdf")
    assert len(pages) == MAX_PAGES
    review_document(blank_pdf(1), "application/pdf", READS, FORM)  # the OCR engine built, its models loaded
    started, before = time.perf_counter(), peak_rss_mib()
    review = review_document(bomb, "application/pdf", READS, FORM)
    assert review.status == "unreadable" and review.pages == MAX_PAGES
    assert [finding.verdict for finding in review.findings] == ["unreadable"]
    assert time.perf_counter() - started < 60 and peak_rss_mib() - before < 300


def test_a_page_two_hundred_inches_wide_is_scaled_to_the_bound() -> None:
    [page] = render_pages(blank_pdf(1, 14_400, 14_400), "application/pdf")
    assert max(page.size) <= MAX_SIDE


def test_an_image_claiming_fifty_thousand_pixels_a_side_is_refused_before_decoding() -> None:
    before = peak_rss_mib()
    with pytest.raises(Unrenderable, match="too large"):
        render_pages(png_header(50_000, 50_000), "image/png")
    review = review_document(png_header(50_000, 50_000), "image/png", READS, FORM)
    assert review.status == "unreadable" and review.fields == {}
    assert peak_rss_mib() - before < 50  # 7.5 GB had it been decoded


def test_a_large_real_photo_is_scaled_down_to_the_bound() -> None:
    out = io.BytesIO()
    Image.new("RGB", (6000, 4000), "white").save(out, "JPEG", quality=50)
    [page] = render_pages(out.getvalue(), "image/jpeg")
    assert max(page.size) <= MAX_SIDE


@pytest.mark.parametrize(
    ("content", "media_type"),
    [
        (b"hello, not an image", "image/png"),
        (b"hello, not a pdf", "application/pdf"),
        (png_header(800, 600), "image/png"),  # truncated: the header promises pixels that are not there
        (b"GIF89a" + b"\0" * 40, "image/png"),  # another format under an accepted name
        (b"PK\x03\x04", "application/zip"),
        (blank_pdf(1)[:200], "application/pdf"),
    ],
)
def test_bytes_that_are_no_readable_document_are_unreadable(
    content: bytes, media_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", False)
    review = review_document(content, media_type, READS, FORM)
    assert review.status == "unreadable" and review.pages == 0
    assert [(finding.field, finding.verdict) for finding in review.findings] == [
        ("company_name", "unreadable")
    ]


def test_a_truncated_image_is_unreadable_where_weasyprint_lets_pillow_pad_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Importing weasyprint (certificates) sets Pillow's LOAD_TRUNCATED_IMAGES for the whole process.

    The worker and the server import it, so there a truncated upload decodes as a padded page:
    it is then rendered (one page) and still answered unreadable, never a crash or a guess.
    """
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    review = review_document(png_header(800, 600), "image/png", READS, FORM)
    assert (review.status, review.pages, review.fields) == ("unreadable", 1, {})
    assert [(finding.field, finding.verdict) for finding in review.findings] == [
        ("company_name", "unreadable")
    ]


def test_a_photo_is_turned_upright_by_its_exif_orientation() -> None:
    image = Image.new("RGB", (800, 400), "white")
    exif = image.getexif()
    exif[0x0112] = 6  # taken with the camera turned: rotate 90 degrees to view
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    [page] = render_pages(out.getvalue(), "image/jpeg")
    assert page.size == (400, 800)


def test_an_image_too_small_to_hold_a_document_is_refused() -> None:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(out, "PNG")
    with pytest.raises(Unrenderable, match="too small"):
        render_pages(out.getvalue(), "image/png")
