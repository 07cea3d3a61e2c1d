"""Jinja2 for the pages: our templates with autoescape, analyst-written text in a sandbox.

Templates come from ``api/templates`` (ours) and ``forms/templates`` (the form macros of
the forms package). Text an analyst writes (notices, reasons, descriptions) may hold
``{{ placeholders }}`` of case data; it is rendered by a ``SandboxedEnvironment`` with
autoescape, so it can neither reach Python internals nor inject markup.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError, select_autoescape
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from api.pages import i18n
from engine.feedback import LEVELS

API_DIR = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = API_DIR / "templates"
FORMS_TEMPLATES_DIR = API_DIR.parent / "forms" / "templates"
STATIC_DIR = API_DIR / "static"

_sandbox = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)


@lru_cache(maxsize=512)
def _compiled(text: str) -> Any:
    return _sandbox.from_string(text)


def analyst_text(text: object, context: dict[str, Any] | None = None) -> Markup:
    """Analyst-written text rendered in the sandbox (escaped as it stands when it does not render)."""
    source = "" if text is None else str(text)
    if "{" not in source:
        return escape(source)
    try:
        return Markup(_compiled(source).render(**(context or {})))  # noqa: S704 - sandboxed and autoescaped
    except (TemplateError, ValueError, TypeError):
        return escape(source)


def _tojson_attr(value: Any) -> Markup:
    """JSON for an HTML attribute or a script block: <, >, & and ' escaped as unicode escapes."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    text = (
        text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace("'", "\\u0027")
    )
    return Markup(text)  # noqa: S704 - every markup-significant character is escaped above


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
    env.globals.update(
        roles=i18n.ROLE,
        case_status=i18n.CASE_STATUS,
        task_state=i18n.TASK_STATE,
        outcomes=i18n.OUTCOME,
        events=i18n.EVENT,
        ratings=LEVELS,
    )
    return env
