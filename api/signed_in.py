"""The account behind a bearer token, checked once and kept for a moment.

Checking a token costs a signature check and a read of the account row (active, role,
departments, password and token generation), and a clerk's client sends several requests
a second with the same token. The checked account is kept for at most ``LIFETIME`` seconds
(never past the token's own expiry) and trusted only while no account changed in this
process (``engine.people.changes``): an admin disabling an account or changing its role,
departments or division, a password change or a sign-out through this process is seen by
the very next request. A change made by another process (a second server on the same
database, ``onething user disable`` run from a shell) is seen within ``LIFETIME``.

Bounded in entries too: past ``MAX_ENTRIES`` the oldest entry goes. Failures are never kept.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from api.errors import NotAuthenticated
from api.security import TokenService
from engine.people.accounts import AccountService, AccountView
from engine.people.changes import ACCOUNT_CHANGES, AccountChanges

LIFETIME = 1.0
MAX_ENTRIES = 4096
REFUSED = "账户已停用、密码已更改或已退出，请重新登录 (account disabled, password changed or signed out)"


@dataclass(frozen=True)
class _Kept:
    """A checked account, the change count it was read under, and when to check it again."""

    account: AccountView
    changes: int
    until: float


class SignedInCache:
    """Token -> checked account, for ``lifetime`` seconds and while no account changed."""

    def __init__(
        self,
        lifetime: float = LIFETIME,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.time,
        changes: AccountChanges = ACCOUNT_CHANGES,
    ) -> None:
        self.lifetime = lifetime
        self.max_entries = max_entries
        self._clock = clock  # seconds since the epoch, as a token's expiry
        self._changes = changes
        self._kept: dict[str, _Kept] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> AccountView | None:
        """The account checked for this token a moment ago, if still to be trusted (no I/O)."""
        kept = self._kept.get(token)
        if kept is None:
            return None
        if kept.changes != self._changes.value or self._clock() >= kept.until:
            with self._lock:
                self._kept.pop(token, None)
            return None
        return kept.account

    def check(self, token: str, tokens: TokenService, accounts: AccountService) -> AccountView:
        """Verify the token and read its account (NotAuthenticated when either fails); keep the result."""
        changes = self._changes.value  # before the read: a change committed during it outdates the entry
        claims = tokens.verify(token)
        if claims is None:
            raise NotAuthenticated("令牌无效或已过期，请重新登录 (token invalid or expired)")
        account = accounts.find_active(claims.username)
        if (
            account is None
            or account.password_version != claims.password_version
            or account.token_generation != claims.generation
        ):
            raise NotAuthenticated(REFUSED)
        if self.lifetime > 0:
            until = min(self._clock() + self.lifetime, claims.expires_at)
            self._keep(token, _Kept(account, changes, until))
        return account

    def _keep(self, token: str, kept: _Kept) -> None:
        with self._lock:
            self._kept.pop(token, None)  # re-inserted last: the oldest entries stay first
            while len(self._kept) >= self.max_entries:
                self._kept.pop(next(iter(self._kept)))
            self._kept[token] = kept
