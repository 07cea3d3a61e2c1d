"""Placeholders in analyst-written text: ``{{ name }}`` or ``{{ a.b }}`` of case data, nothing else.

Texts an analyst writes into a bundle (its name and description, item names, exemption
reasons) are data, not templates. The only markup they may hold is a placeholder naming a
known value: no filters, calls, blocks, loops or arithmetic. Filling placeholders in is
therefore one left-to-right pass whose time grows with the length of the text and nothing
else; anything that is not a placeholder stays exactly as written (the caller escapes it).

``problems`` is the deploy-time half: it names every block (``{% ... %}``), every ``{{``
that opens anything but a dotted name, and every placeholder whose name the bundle does
not know, so such a text never reaches a page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

# A placeholder: ``{{``, spaces, a dotted name, spaces, ``}}``. Every part is a run of one
# character class, so a failed attempt costs only the run it looked at, and ``finditer``
# scans a text in time linear in its length.
_NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_PLACEHOLDER = re.compile(r"\{\{[ \t]*(?P<name>" + _NAME + r")[ \t]*\}\}")
# What deploy looks at: a placeholder, else a ``{{`` that opens something else, or a block.
_TOKEN = re.compile(_PLACEHOLDER.pattern + r"|(?P<open>\{\{)|(?P<block>\{%)")
SNIPPET_CHARS = 60  # how much of an offending piece a problem quotes
MAX_PROBLEMS = 5  # per text: one text full of blocks is one mistake, not a thousand lines


@dataclass(frozen=True)
class Piece:
    """A run of literal text, or a placeholder (``name`` set) as it was written."""

    text: str
    name: str | None = None


@dataclass(frozen=True)
class TextProblem:
    """What a text holds that is not allowed: ``block``, ``expression`` or ``unknown-name``."""

    rule: Literal["block", "expression", "unknown-name"]
    text: str


def pieces(text: str) -> Iterator[Piece]:
    """The text cut into literal runs and placeholders, in order (linear in the length of the text)."""
    pos = 0
    for found in _PLACEHOLDER.finditer(text):
        if found.start() > pos:
            yield Piece(text[pos : found.start()])
        yield Piece(found.group(0), found.group("name"))
        pos = found.end()
    if pos < len(text):
        yield Piece(text[pos:])


def names(text: str) -> tuple[str, ...]:
    """The dotted names the text's placeholders use, each once, in order."""
    return tuple(dict.fromkeys(p.name for p in pieces(text) if p.name is not None))


def lookup(values: Mapping[str, Any], name: str) -> tuple[bool, Any]:
    """``(True, value)`` for a dotted name found by mapping keys alone, else ``(False, None)``.

    Only mapping keys are followed, never attributes, so no name reaches an object's insides.
    """
    current: Any = values
    for part in name.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return False, None
        current = current[part]
    return True, current


def fill(text: str, values: Mapping[str, Any], escape: Callable[[str], str]) -> str:
    """The text with each placeholder whose name has a value replaced by it; all of it escaped.

    A placeholder without a value, and everything that is no placeholder, is shown as written.
    """
    out: list[str] = []
    for piece in pieces(text):
        if piece.name is not None:
            found, value = lookup(values, piece.name)
            if found and value is not None:
                out.append(escape(str(value)))
                continue
        out.append(escape(piece.text))
    return "".join(out)


def _quote(text: str, start: int, close: str) -> str:
    """The offending piece from ``start``: up to its ``close`` when near, else cut short."""
    end = text.find(close, start + 2, start + SNIPPET_CHARS)
    if end >= 0:
        return text[start : end + len(close)]
    piece = text[start : start + SNIPPET_CHARS]
    return piece + "…" if start + SNIPPET_CHARS < len(text) else piece


def problems(text: str, known: Collection[str]) -> list[TextProblem]:
    """What the text holds besides plain words and placeholders of ``known`` names (the first few)."""
    found: list[TextProblem] = []
    for token in _TOKEN.finditer(text):
        if len(found) == MAX_PROBLEMS:
            break
        if token.group("block") is not None:
            found.append(TextProblem("block", _quote(text, token.start(), "%}")))
        elif token.group("open") is not None:
            found.append(TextProblem("expression", _quote(text, token.start(), "}}")))
        elif token.group("name") not in known:
            found.append(TextProblem("unknown-name", token.group(0)))
    return list(dict.fromkeys(found))
