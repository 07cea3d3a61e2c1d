"""Jinja2 for the pages: our templates with autoescape; analyst-written text is data, not a template.

Templates come from ``api/templates`` (ours) and ``forms/templates`` (the form macros of
the forms package). Text an analyst writes (names, descriptions, exemption reasons) may
hold ``{{ name }}`` placeholders of case data and nothing else: ``forms.placeholders``
fills them in one linear pass, escaping everything, and never hands the text to Jinja, so
it can neither loop, call, reach Python internals nor inject markup.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from api.pages import i18n
from engine.feedback.views import LEVELS
from forms import placeholders

API_DIR = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = API_DIR / "templates"
FORMS_TEMPLATES_DIR = API_DIR.parent / "forms" / "templates"
STATIC_DIR = API_DIR / "static"


def _escaped(text: str) -> str:
    return str(escape(text))


def analyst_text(text: object, context: Mapping[str, Any] | None = None) -> Markup:
    """Analyst-written text with its placeholders filled from ``context``; the rest shown as written."""
    source = "" if text is None else str(text)
    filled = placeholders.fill(source, context or {}, _escaped)
    return Markup(filled)  # noqa: S704 - every piece, literal or value, was escaped by fill


def _tojson_attr(value: Any) -> Markup:
    """JSON for an HTML attribute or a script block: <, >, & and ' escaped as unicode escapes."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    text = (
        text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace("'", "\\u0027")
    )
    return Markup(text)  # noqa: S704 - every markup-significant character is escaped above


# Material types as applicants name them (never MIME types).
FILE_TYPES = {
    "application/pdf": "PDF",
    "image/jpeg": "JPG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/tiff": "TIFF",
    "application/ofd": "OFD",
}


def file_types(accept: Iterable[str], lang: str = "zh") -> str:
    """Accepted file types in words ("PDF、JPG、PNG"), never MIME types."""
    names = (FILE_TYPES.get(m, m.rsplit("/", 1)[-1].upper()) for m in accept)
    return ("、" if lang == "zh" else ", ").join(dict.fromkeys(names))


def build_environment() -> Environment:
    """The pages' Jinja2 environment (built once per app)."""
    loaders = [str(TEMPLATES_DIR)]
    if FORMS_TEMPLATES_DIR.is_dir():
        loaders.append(str(FORMS_TEMPLATES_DIR))
    env = Environment(
        loader=FileSystemLoader(loaders),
        autoescape=select_autoescape(["html", "xml"], default_for_string=True, default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["analyst"] = analyst_text
    env.filters["jsonattr"] = _tojson_attr
    env.filters["file_types"] = file_types
    env.globals.update(
        roles=i18n.ROLE,
        case_status=i18n.CASE_STATUS,
        task_state=i18n.TASK_STATE,
        outcomes=i18n.OUTCOME,
        events=i18n.EVENT,
        ratings=LEVELS,
    )
    return env
