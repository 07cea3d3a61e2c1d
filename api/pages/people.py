"""Staff as pages name them: the display name on their account, never the username.

Shared by the clerk pages and the supervision desk, which both show who holds, decided or
suspended something.
"""

from __future__ import annotations

from collections.abc import Iterable

from api.pages.base import PageContext
from engine.people.accounts import AccountNotFound


def people_names(ctx: PageContext, usernames: Iterable[str | None]) -> dict[str, str]:
    """Staff by the name on their account, not their username (Chinese pages drop an English gloss)."""
    names: dict[str, str] = {}
    for username in {u for u in usernames if u and u != "system"}:
        try:
            display = ctx.svc.accounts.get(username).display_name
        except AccountNotFound:
            continue
        if display:
            names[username] = ctx.words.person_name(display)
    return names
