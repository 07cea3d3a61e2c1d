"""A counter that moves on after every change to an account made in this process.

Whoever keeps accounts in memory for a moment (the API's signed-in cache) notes the
counter before it reads an account and trusts what it kept only while the counter has
not moved: a disabled account, a new role or a sign-out made through any
``AccountService`` of the process is seen by the next request. The counter is one per
process on purpose: the CLI's and the pages' services are other instances than the API's,
and each change must reach every cache. Another process (a second server, the CLI run
from a shell) cannot move it; a cache bounds that staleness by its own lifetime.
"""

from __future__ import annotations

import threading


class AccountChanges:
    """A process-wide change counter (thread-safe)."""

    def __init__(self) -> None:
        self._value = 0
        self._lock = threading.Lock()

    @property
    def value(self) -> int:
        """The current count: equal to an earlier reading only if no account changed since."""
        return self._value

    def bump(self) -> None:
        """Record that an account changed (called after the change committed, or failed)."""
        with self._lock:
            self._value += 1


ACCOUNT_CHANGES = AccountChanges()
