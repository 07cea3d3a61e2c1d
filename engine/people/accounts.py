"""Accounts: who may sign in, with which role and departments, and their password hashes.

Passwords are hashed with argon2id (argon2-cffi, its default parameters); a hash made
with older parameters is upgraded on the next successful sign-in. An unknown username
costs the same hashing work as a wrong password, so the answer time does not reveal
which usernames exist. The API, the pages and the CLI all manage accounts through
``AccountService`` so the same rules hold everywhere.

Signing in goes through ``sign_in``, which asks the throttle (engine.sign_in) first. New
passwords must pass the policy in engine.passwords. Sign-out is server-side: an account
has a session generation (page sessions) and a token generation (bearer tokens); a cookie
or token records the generation it was made under and stops working once the account's
moves on. The account row is read on every request anyway (a disabled account stops at
once), so the check costs nothing more. A page sign-out ends every page session of the
account (on a shared counter terminal that is the safe reading of "sign out");
``sign_out_everywhere`` and a password change end its bearer tokens as well.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from engine.errors import Conflict, InvalidInput, NotFound, Problem
from engine.people.actors import Actor, Role
from engine.people.passwords import MAX_LENGTH as MAX_PASSWORD_LENGTH
from engine.people.passwords import password_problems
from engine.people.sign_in import SignInThrottle
from engine.storage.db import Database
from engine.storage.idempotency import Reservation, outcome_ref, record_outcome
from engine.storage.models import Account

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
DEMO_PASSWORD = "demo"  # noqa: S105 - the documented password of the demo accounts (design.md)
DEMO_ACCOUNTS: tuple[tuple[str, Role, str], ...] = (
    ("applicant1", Role.APPLICANT, "申请人一 (Applicant one)"),
    ("applicant2", Role.APPLICANT, "申请人二 (Applicant two)"),
    ("analyst", Role.ANALYST, "业务分析员 (Analyst)"),
    ("admin", Role.ADMIN, "系统管理员 (Administrator)"),
)


class AccountNotFound(NotFound):
    """No account with that username."""


@dataclass(frozen=True)
class AccountView:
    """An account as callers see it: never the password hash itself."""

    username: str
    role: Role
    departments: tuple[str, ...]
    display_name: str
    supervisor: bool
    active: bool
    created_at: datetime
    # Changes whenever the password changes, so tokens issued before a change stop working.
    password_version: str
    # Bumped by sign-out (pages) and sign-out-everywhere (tokens too); see the module docstring.
    session_generation: int = 0
    token_generation: int = 0

    @property
    def session_version(self) -> str:
        """What a page session records at sign-in and must still match: password and generation."""
        return f"{self.password_version}.{self.session_generation}"

    def actor(self) -> Actor:
        """The engine's view of this person (visibility and rights are checked against it)."""
        return Actor(self.username, self.role, frozenset(self.departments), self.supervisor)


def _view(row: Account) -> AccountView:
    return AccountView(
        username=row.username,
        role=Role(row.role),
        departments=tuple(str(d) for d in row.departments),
        display_name=row.display_name,
        supervisor=row.supervisor,
        active=row.active,
        created_at=row.created_at,
        password_version=hashlib.sha256(row.password_hash.encode()).hexdigest()[:16],
        session_generation=row.session_generation or 0,
        token_generation=row.token_generation or 0,
    )


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class AccountService:
    """Creates, changes and authenticates accounts stored in the ``accounts`` table."""

    def __init__(
        self,
        db: Database,
        departments: Collection[str] | None = None,
        hasher: PasswordHasher | None = None,
        throttle: SignInThrottle | None = None,
    ) -> None:
        self.db = db
        self.throttle = throttle or SignInThrottle(db)
        # Known department keys; None accepts any key (a database without processes/ at hand).
        self.departments = frozenset(departments) if departments is not None else None
        self.hasher = hasher or PasswordHasher()
        self._dummy_hash = self.hasher.hash("onething-timing-equaliser")

    # -- reading ---------------------------------------------------------------------
    def get(self, username: str) -> AccountView:
        """One account by username (active or not); AccountNotFound when there is none."""
        with self.db.read() as session:
            row = session.scalar(select(Account).where(Account.username == username))
            if row is None:
                raise AccountNotFound(f"没有此账户 (no account {username!r})")
            return _view(row)

    def get_by_id(self, account_id: int) -> AccountView:
        """One account by its row id (what an idempotent change recorded); AccountNotFound when gone."""
        with self.db.read() as session:
            row = session.get(Account, account_id)
            if row is None:
                raise AccountNotFound(f"没有此账户 (no account {account_id})")
            return _view(row)

    def find_active(self, username: str) -> AccountView | None:
        """The account if it exists and may sign in, else None (a deactivated account stops working)."""
        with self.db.read() as session:
            row = session.scalar(select(Account).where(Account.username == username, Account.active))
            return None if row is None else _view(row)

    def list_accounts(self) -> list[AccountView]:
        """Every account, by username."""
        with self.db.read() as session:
            return [_view(row) for row in session.scalars(select(Account).order_by(Account.username))]

    # -- signing in ------------------------------------------------------------------
    def sign_in(self, username: str, password: str, client: str) -> AccountView | None:
        """``authenticate`` behind the throttle: TooManyAttempts while the username or client waits."""
        self.throttle.check(username, client)
        account = self.authenticate(username, password)
        if account is None:
            self.throttle.failed(username, client)
        else:
            self.throttle.succeeded(username, client)
        return account

    def sign_out(self, username: str, *, everywhere: bool = False) -> None:
        """End the account's page sessions; ``everywhere`` ends its bearer tokens too."""
        values = {"session_generation": Account.session_generation + 1}
        if everywhere:
            values["token_generation"] = Account.token_generation + 1
        with self.db.write() as session:
            session.execute(update(Account).where(Account.username == username).values(values))

    def authenticate(self, username: str, password: str) -> AccountView | None:
        """The account when the password matches an active account, else None (same cost either way)."""
        if not USERNAME_PATTERN.fullmatch(username) or not _encodable(password):
            self._verify(self._dummy_hash, "-")
            return None
        with self.db.read() as session:
            row = session.scalar(select(Account).where(Account.username == username))
            stored = row.password_hash if row is not None and row.active else None
        if stored is None or len(password) > MAX_PASSWORD_LENGTH:
            self._verify(self._dummy_hash, password[:MAX_PASSWORD_LENGTH])
            return None
        if not self._verify(stored, password):
            return None
        if self.hasher.check_needs_rehash(stored):
            with self.db.write() as session:
                fresh = session.scalar(select(Account).where(Account.username == username))
                if fresh is not None and fresh.password_hash == stored:
                    fresh.password_hash = self.hasher.hash(password)
        return self.find_active(username)

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    # -- changing --------------------------------------------------------------------
    def create(
        self,
        username: str,
        password: str,
        role: Role | str,
        departments: Iterable[str] = (),
        display_name: str = "",
        supervisor: bool = False,
        *,
        reservation: Reservation | None = None,
    ) -> AccountView:
        """A new account; InvalidInput lists every problem, Conflict when the username is taken.

        ``reservation`` (an ``Idempotency-Key``'s) learns the account in the same transaction.
        """
        problems = self._check_username(username) + password_problems(password, username)
        role_value, departments_value, more = self._check_role(role, departments, supervisor)
        problems += more
        if problems:
            raise InvalidInput("账户信息有误 (invalid account)", problems)
        return self._insert(
            username,
            self.hasher.hash(password),
            role_value,
            departments_value,
            display_name,
            supervisor,
            reservation=reservation,
        )

    def update(
        self,
        username: str,
        *,
        role: Role | str | None = None,
        departments: Iterable[str] | None = None,
        display_name: str | None = None,
        supervisor: bool | None = None,
        active: bool | None = None,
        password: str | None = None,
        reservation: Reservation | None = None,
    ) -> AccountView:
        """Change role, departments, name, supervisor or active flag, or password: all or nothing.

        ``reservation`` (an ``Idempotency-Key``'s) learns the account in the same transaction, so
        a retry after a crash does not change the password (and end the sessions) a second time.
        """
        new_hash = None
        if password is not None:
            problems = password_problems(password, username)
            if problems:
                raise InvalidInput("密码不符合要求 (password refused)", problems)
            new_hash = self.hasher.hash(password)
        with self.db.write() as session:
            row = session.scalar(select(Account).where(Account.username == username))
            if row is None:
                raise AccountNotFound(f"没有此账户 (no account {username!r})")
            new_role = row.role if role is None else role
            new_departments = row.departments if departments is None else list(departments)
            new_supervisor = row.supervisor if supervisor is None else supervisor
            role_value, departments_value, problems = self._check_role(
                new_role, new_departments, new_supervisor
            )
            if problems:
                raise InvalidInput("账户信息有误 (invalid account)", problems)
            row.role = role_value.value
            row.departments = list(departments_value)
            row.supervisor = new_supervisor
            if display_name is not None:
                row.display_name = display_name[:128]
            if active is not None:
                row.active = active
            if new_hash is not None:
                row.password_hash = new_hash
                # Every session and token made under the old password ends.
                row.session_generation = (row.session_generation or 0) + 1
                row.token_generation = (row.token_generation or 0) + 1
            record_outcome(session, reservation, outcome_ref("account", row.id))
            session.flush()
            return _view(row)

    def set_password(self, username: str, password: str) -> AccountView:
        """Replace an account's password (tokens issued before stop working)."""
        return self.update(username, password=password)

    def disable(self, username: str) -> AccountView:
        """Deactivate an account: it can no longer sign in, and its tokens stop working."""
        return self.update(username, active=False)

    def ensure_demo_accounts(self, departments: Iterable[str]) -> list[str]:
        """Create the design's demo accounts (password ``demo``) that do not exist yet; their names.

        Per department: ``clerk.<department>`` works its queue, ``supervisor.<department>``
        (a clerk with the supervisor flag) answers its complaints and escalations (督办), and
        ``system.<department>`` is the department's own system, which works its external tasks
        through /engine-rest (the example worker and ``onething demo`` sign in with it).
        """
        wanted: list[tuple[str, Role, list[str], str, bool]] = [
            (name, role, [], label, False) for name, role, label in DEMO_ACCOUNTS
        ]
        for department in sorted(set(departments)):
            wanted.append(
                (f"clerk.{department}", Role.CLERK, [department], f"{department} 窗口人员 (clerk)", False)
            )
            wanted.append(
                (
                    f"supervisor.{department}",
                    Role.CLERK,
                    [department],
                    f"{department} 督办人 (supervisor)",
                    True,
                )
            )
            wanted.append(
                (
                    f"system.{department}",
                    Role.SYSTEM,
                    [department],
                    f"{department} 部门系统 (department system)",
                    False,
                )
            )
        created: list[str] = []
        demo_hash = ""  # one hash for the one documented password: a server starts in a blink
        for username, role, depts, label, supervisor in wanted:
            if self._exists(username):
                continue
            demo_hash = demo_hash or self.hasher.hash(DEMO_PASSWORD)
            try:
                self._insert(username, demo_hash, role, tuple(depts), label, supervisor)
            except Conflict:
                continue  # another process created it at the same moment
            created.append(username)
        return created

    # -- helpers ---------------------------------------------------------------------
    def _exists(self, username: str) -> bool:
        with self.db.read() as session:
            return session.scalar(select(Account.id).where(Account.username == username)) is not None

    def _insert(
        self,
        username: str,
        password_hash: str,
        role: Role,
        departments: tuple[str, ...],
        display_name: str,
        supervisor: bool,
        *,
        reservation: Reservation | None = None,
    ) -> AccountView:
        try:
            with self.db.write() as session:
                row = Account(
                    username=username,
                    password_hash=password_hash,
                    role=role.value,
                    departments=list(departments),
                    display_name=display_name[:128],
                    supervisor=supervisor,
                    active=True,
                )
                session.add(row)
                session.flush()
                record_outcome(session, reservation, outcome_ref("account", row.id))
                return _view(row)
        except IntegrityError as exc:
            raise Conflict(f"用户名已存在 (username {username!r} is taken)") from exc

    @staticmethod
    def _check_username(username: str) -> list[Problem]:
        if USERNAME_PATTERN.fullmatch(username):
            return []
        return [
            Problem(
                "用户名须为 1-64 个字母、数字或 . _ @ -，以字母或数字开头",
                where="username",
                rule="pattern",
                message_en="username: 1-64 letters, digits or . _ @ -, starting with a letter or digit",
            )
        ]

    def _check_role(
        self, role: Role | str, departments: Iterable[str], supervisor: bool
    ) -> tuple[Role, tuple[str, ...], list[Problem]]:
        problems: list[Problem] = []
        try:
            role_value = Role(role)
        except ValueError:
            role_value = Role.APPLICANT
            problems.append(
                Problem(
                    f"未知角色 {role!r}",
                    where="role",
                    rule="enum",
                    message_en=f"unknown role {role!r}; one of {', '.join(r.value for r in Role)}",
                )
            )
        departments_value = tuple(sorted(set(departments)))
        if role_value is Role.CLERK and not departments_value:
            problems.append(
                Problem(
                    "窗口人员须至少属于一个部门",
                    where="departments",
                    rule="required",
                    message_en="a clerk needs at least one department",
                )
            )
        if role_value is Role.SYSTEM and len(departments_value) != 1:
            problems.append(
                Problem(
                    "部门系统账户须恰好属于一个部门",
                    where="departments",
                    rule="exactly-one",
                    message_en="a system account belongs to exactly one department",
                )
            )
        if role_value not in (Role.CLERK, Role.SYSTEM) and departments_value:
            problems.append(
                Problem(
                    "只有窗口人员和部门系统属于部门",
                    where="departments",
                    rule="clerk-only",
                    message_en="only clerks and system accounts belong to departments",
                )
            )
        if supervisor and role_value is not Role.CLERK:
            problems.append(
                Problem(
                    "只有窗口人员可为督办人",
                    where="supervisor",
                    rule="clerk-only",
                    message_en="only clerks can be supervisors",
                )
            )
        if self.departments is not None:
            for department in departments_value:
                if department not in self.departments:
                    problems.append(
                        Problem(
                            f"未知部门 {department!r}",
                            where="departments",
                            rule="known-department",
                            message_en=f"unknown department {department!r}",
                        )
                    )
        return role_value, departments_value, problems
