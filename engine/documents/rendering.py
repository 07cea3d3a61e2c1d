"""HTML templates to PDF: one Jinja2 environment over ``templates/``, WeasyPrint, QR codes.

The templates are ours (autoescaped, never an analyst's text), so a plain environment is
right; every value that reaches them is escaped. Fonts come from fontconfig by family
name (Noto Serif/Sans CJK SC, Debian's ``fonts-noto-cjk``); WeasyPrint embeds the subset
of glyphs a document uses, so the PDF shows and copies its Chinese text anywhere.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Any

import segno
from jinja2 import Environment, FileSystemLoader, TemplateNotFound, select_autoescape
from weasyprint import HTML

TEMPLATES = Path(__file__).resolve().parent / "templates"
GENERIC_CERTIFICATE = "certificate.html"


@cache
def _environment() -> Environment:
    """The one environment (built on first use, not at import: nothing is created at import time)."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def certificate_template(kind: str) -> str:
    """The template of a certificate kind: ``<kind>.html`` when there is one, else the generic one."""
    name = f"{kind}.html"
    try:
        _environment().get_template(name)
    except TemplateNotFound:
        return GENERIC_CERTIFICATE
    return name


def qr_data_uri(text: str) -> str:
    """A QR code of ``text`` as an SVG data URI (vector: sharp at any print size).

    Error correction level M survives a fold or a smudge on a printed copy; the quiet zone
    of four modules is what scanners expect.
    """
    code = segno.make(text, error="m", micro=False)
    return str(code.svg_data_uri(scale=4, border=4, dark="#000", light="#fff"))


def render_html(template: str, context: dict[str, Any]) -> str:
    """A template filled in (the HTML the PDF is made from)."""
    return _environment().get_template(template).render(**context)


def render_pdf(template: str, context: dict[str, Any]) -> bytes:
    """A template filled in and laid out as PDF bytes."""
    out = io.BytesIO()
    HTML(string=render_html(template, context), base_url=str(TEMPLATES)).write_pdf(out)
    return out.getvalue()
