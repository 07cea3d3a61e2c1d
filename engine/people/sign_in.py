"""The sign-in throttle: backoff per username and client, per username, and per client.

Every failed sign-in counts against three keys, after OWASP's advice that a lockout must
not become a way to shut a real user out:

- the pair of username (as typed, known or not, so a lockout never tells which usernames
  exist) and client address (an IPv6 client by its /64, which one subscriber usually
  holds whole): after ``pair_failures`` (5) it waits. An attacker guessing one account
  from one address locks only that address out of that account; the real user, from
  anywhere else, is not stopped.
- the username alone, from all clients together: after ``account_failures`` (50 within
  the ``forget`` spell), for guessing spread over many addresses. This is the only key
  an attacker can hold a real user back with, so its threshold is high and its waits
  have their own, shorter cap ``account_backoff_max``.
- the client alone, across usernames: after ``client_failures`` (30), so one address
  spraying a common password over many usernames is stopped.

When a key reaches its free failures it waits ``backoff``, and each further failure
doubles the wait up to its cap (default 30 s, 1, 2, 4, 8 min, then 15 min for a pair or
a client; 2 min for a username). While any of the three keys waits, sign-ins are refused
before the password is checked, so a right password gets the same 429 as a wrong one
(else the answer would confirm the guess) and attempts during the wait neither cost
hashing work nor lengthen it. A success clears the pair's and the username's counts; the
client's count is only forgotten after a quiet ``forget`` spell, so an attacker who owns
one account cannot clear the counter they spray many usernames from by signing into it.

The counters live in the database (``sign_in_failures``), not in process memory: several
``serve`` processes share one PostgreSQL database behind a load balancer, and a
per-process counter would give an attacker a fresh allowance on every process and forget
everything at each restart. A failure is one upsert per key that increments atomically
(``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``) on both backends; a sign-in reads at
most three rows by primary key first.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Index, Integer, String, case, delete, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.errors import TooManyAttempts
from engine.storage.db import Database, upsert_insert
from engine.storage.models import Base, UtcDateTime, table_of
from engine.storage.settings import Settings
from engine.time.clock import Clock, SystemClock

log = logging.getLogger(__name__)

MAX_KEY_PART = 64


class SignInFailure(Base):
    """Recent failed sign-ins of one key (pair, username or client), and until when it must wait."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_last_failure_at", "last_failure_at"),)

    # "pair:<digest of username and client>", "account:<username>" or "client:<address>"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(UtcDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures are free, how long the waits are, when failures are forgotten."""

    pair_failures: int = 5
    account_failures: int = 50
    client_failures: int = 30
    backoff: timedelta = timedelta(seconds=30)
    backoff_max: timedelta = timedelta(minutes=15)
    account_backoff_max: timedelta = timedelta(minutes=2)
    forget: timedelta = timedelta(hours=1)

    @classmethod
    def from_settings(cls, settings: Settings) -> ThrottlePolicy:
        """The policy the settings ask for (``sign_in_*``)."""
        return cls(
            pair_failures=settings.sign_in_pair_failures,
            account_failures=settings.sign_in_account_failures,
            client_failures=settings.sign_in_client_failures,
            backoff=timedelta(seconds=settings.sign_in_backoff_seconds),
            backoff_max=timedelta(seconds=settings.sign_in_backoff_max_seconds),
            account_backoff_max=timedelta(seconds=settings.sign_in_account_backoff_max_seconds),
            forget=timedelta(seconds=settings.sign_in_forget_seconds),
        )

    def wait_after(self, failures: int, free: int, cap: timedelta | None = None) -> timedelta | None:
        """The wait owed after the n-th failure (at most ``cap``, else ``backoff_max``); None while free."""
        if failures < free:
            return None
        wait: timedelta = self.backoff * 2 ** min(failures - free, 32)
        return min(wait, self.backoff_max if cap is None else cap)


def account_key(username: str) -> str:
    """The counter key of a username as typed."""
    return f"account:{username[:MAX_KEY_PART]}"


def client_key(address: str) -> str:
    """The counter key of a client address (IPv6 by its /64)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"client:{address[:MAX_KEY_PART]}"
    if ip.version == 6:
        return f"client:{ipaddress.ip_network(f'{ip}/64', strict=False)}"
    return f"client:{ip}"


def pair_key(username: str, address: str) -> str:
    """The counter key of a username from one client: a digest, as both together outgrow the column."""
    both = f"{account_key(username)}\n{client_key(address)}".encode()
    return f"pair:{hashlib.blake2b(both, digest_size=20).hexdigest()}"


def wait_text(seconds: int) -> tuple[str, str]:
    """A wait in Chinese and English as the refusal names it: ("45 秒", "45 s"), ("15 分钟", "15 min")."""
    if seconds < 60:
        return f"{seconds} 秒", f"{seconds} s"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} 分钟", f"{minutes} min"


class SignInThrottle:
    """Refuses sign-ins of a waiting pair, username or client, and counts failures in the database."""

    def __init__(
        self, db: Database, policy: ThrottlePolicy | None = None, clock: Clock | None = None
    ) -> None:
        self.db = db
        self.policy = policy or ThrottlePolicy()
        self.clock: Clock = clock or SystemClock()
        self._table = table_of(SignInFailure)

    def check(self, username: str, client: str) -> None:
        """TooManyAttempts when the pair, the username or the client must still wait."""
        now = self.clock.now()
        keys = (pair_key(username, client), account_key(username), client_key(client))
        with self.db.read() as session:
            until = session.scalar(
                select(SignInFailure.locked_until)
                .where(SignInFailure.key.in_(keys), SignInFailure.locked_until > now)
                .order_by(SignInFailure.locked_until.desc())
                .limit(1)
            )
        if until is not None:
            seconds = max(1, math.ceil((until - now).total_seconds()))
            zh, en = wait_text(seconds)
            raise TooManyAttempts(
                f"登录失败次数过多，请 {zh}后再试 (too many failed sign-ins; try again in {en})",
                retry_after=seconds,
            )

    def failed(self, username: str, client: str) -> None:
        """Count a failure against the pair, the username and the client; start each wait that is due."""
        now = self.clock.now()
        policy = self.policy
        account, address = account_key(username), client_key(client)
        with self.db.write() as session:
            for key, label, free, cap in (
                (pair_key(username, client), f"{account} from {address}", policy.pair_failures, None),
                (account, account, policy.account_failures, policy.account_backoff_max),
                (address, address, policy.client_failures, None),
            ):
                failures = self._count(session, key, now)
                wait = policy.wait_after(failures, free, cap)
                if wait is None:
                    continue
                session.execute(
                    update(SignInFailure).where(SignInFailure.key == key).values(locked_until=now + wait)
                )
                log.warning(
                    "sign-in locked: %s after %d failures for %d s",
                    label,
                    failures,
                    int(wait.total_seconds()),
                )
                self._purge(session, now)

    def succeeded(self, username: str, client: str) -> None:
        """A right password: the pair's and the username's failures are forgotten (the client's are not)."""
        keys = (pair_key(username, client), account_key(username))
        with self.db.write() as session:
            session.execute(delete(SignInFailure).where(SignInFailure.key.in_(keys)))

    def _count(self, session: Session, key: str, now: datetime) -> int:
        table = self._table
        statement = (
            upsert_insert(session, SignInFailure)
            .values(key=key, failures=1, last_failure_at=now, locked_until=None)
            .on_conflict_do_update(
                index_elements=["key"],
                set_={
                    "failures": case(
                        (table.c.last_failure_at < now - self.policy.forget, 1),
                        else_=table.c.failures + 1,
                    ),
                    "last_failure_at": now,
                },
            )
            .returning(table.c.failures)
        )
        return int(session.execute(statement).scalar_one())

    def _purge(self, session: Session, now: datetime) -> None:
        """Drop counters that are forgotten anyway (a lock is rare, so this runs rarely)."""
        session.execute(
            delete(SignInFailure).where(
                SignInFailure.last_failure_at < now - self.policy.forget,
                or_(SignInFailure.locked_until.is_(None), SignInFailure.locked_until < now),
            )
        )
