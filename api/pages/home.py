"""The home page's catalogue: bundles grouped by who applies (个人/企业) and by life event, searchable.

A manifest says its ``audience`` (``individual`` or ``enterprise``); the life event a bundle
belongs to is decided here, in ``LIFE_EVENTS``, in one place: a bundle not listed falls under
"其他服务" (other services) of its audience, so a new bundle shows up without an edit. The page's
script filters the cards as one types, on every word against a bundle's names (both
languages), description, items and departments; ``GET /?q=`` (a sent question) ranks
the bundles instead (智能导办, ``Engine.search_bundles``) and shows why each fits.

Descriptions and audiences come from the deployed manifests; versions are immutable, so they
are kept per engine and (key, version) and read once.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any

from engine.cases.bundle_search import BundleFound, SearchAnswer
from engine.cases.views import BundleSummary, Label
from engine.service import Engine

AUDIENCES: tuple[tuple[str, Label], ...] = (
    ("individual", Label("个人办事", "For individuals")),
    ("enterprise", Label("企业办事", "For businesses")),
)
EVENT_NAMES: dict[str, Label] = {
    "birth-school": Label("出生与入学", "Birth and school"),
    "social-security": Label("社保与退休", "Social security and retirement"),
    "assistance": Label("扶助服务", "Assistance"),
    "starting": Label("开办经营", "Starting a business"),
    "changing": Label("变更与信用", "Changes and credit"),
    "listing-exit": Label("上市与退出", "Listing and closing"),
    "other": Label("其他服务", "Other services"),
}
LIFE_EVENTS: dict[str, str] = {
    "newborn-birth": "birth-school",
    "school-enrollment": "birth-school",
    "social-security-card": "social-security",
    "retirement": "social-security",
    "disability-services": "assistance",
    "enterprise-startup": "starting",
    "restaurant-opening": "starting",
    "transport-enterprise": "starting",
    "utilities-connection": "starting",
    "enterprise-info-change": "changing",
    "credit-repair": "changing",
    "ipo-compliance-check": "listing-exit",
    "bankruptcy-info-check": "listing-exit",
    "enterprise-deregistration": "listing-exit",
}


@dataclass(frozen=True)
class Card:
    """One bundle as the home page shows it."""

    bundle: BundleSummary
    audience: str
    event: str
    description: Label
    search: str  # every searchable word, lower case, for the script's filter as one types


@dataclass(frozen=True)
class Group:
    """The cards of one life event."""

    event: str
    name: Label
    cards: tuple[Card, ...]


@dataclass(frozen=True)
class Section:
    """The groups of one audience."""

    audience: str
    name: Label
    groups: tuple[Group, ...]


_manifests: weakref.WeakKeyDictionary[Engine, dict[tuple[str, int], dict[str, Any]]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def _manifest(engine: Engine, bundle: BundleSummary) -> dict[str, Any]:
    with _lock:
        known = _manifests.setdefault(engine, {})
        found = known.get((bundle.key, bundle.version))
    if found is None:
        found = engine.bundle_detail(bundle.key, bundle.version).manifest
        with _lock:
            known[(bundle.key, bundle.version)] = found
    return found


def _text(value: Any) -> Label:
    if isinstance(value, dict):
        return Label(str(value.get("zh") or ""), str(value.get("en") or ""))
    return Label("", "")


def card(engine: Engine, bundle: BundleSummary, departments: dict[str, dict[str, str]]) -> Card:
    """A bundle's card: its audience, life event, description and search text."""
    manifest = _manifest(engine, bundle)
    audience = str(manifest.get("audience") or "enterprise")
    description = _text(manifest.get("description"))
    texts = [bundle.name.zh, bundle.name.en, description.zh, description.en]
    for item in bundle.items:
        texts += [_text(item.get("name")).zh, _text(item.get("name")).en]
    for department in bundle.departments:
        named = _text(departments.get(department))
        texts += [named.zh, named.en]
    return Card(
        bundle,
        audience if audience in dict(AUDIENCES) else "enterprise",
        LIFE_EVENTS.get(bundle.key, "other"),
        description,
        " ".join(t for t in texts if t).lower(),
    )


# Where a word of the question was found, as the reasons on the page name it.
MATCH_FIELDS: dict[str, Label] = {
    "keyword": Label("常用说法", "common words"),
    "name": Label("名称", "name"),
    "item": Label("事项", "item"),
    "situation": Label("情形", "situation"),
    "description": Label("说明", "description"),
    "department": Label("部门", "department"),
}


@dataclass(frozen=True)
class Found:
    """A bundle the search ranked (智能导办): its card, and why it fits."""

    card: Card
    found: BundleFound


def ranked(cards: list[Card], answer: SearchAnswer) -> list[Found]:
    """The cards of the bundles that fit the question, best first."""
    by_key = {c.bundle.key: c for c in cards}
    return [Found(by_key[f.key], f) for f in answer.found if f.key in by_key]


def sections(cards: list[Card]) -> list[Section]:
    """The cards by audience, then by life event (in ``EVENT_NAMES`` order)."""
    found: list[Section] = []
    for audience, name in AUDIENCES:
        groups = [
            Group(event, event_name, tuple(c for c in cards if c.audience == audience and c.event == event))
            for event, event_name in EVENT_NAMES.items()
        ]
        found.append(Section(audience, name, tuple(g for g in groups if g.cards)))
    return found
