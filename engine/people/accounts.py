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
moves on. The account row is read on every page request anyway, and the API keeps it at
most a second (``api.signed_in``), forgotten as soon as any account changes in this
process (``engine.people.changes``): a disabled account stops at once, so the check costs
nothing more. A page sign-out ends every page session of the
account (on a shared counter terminal that is the safe reading of "sign out");
``sign_out_everywhere`` and a password change end its bearer tokens as well.

Divisions (分级授权): a clerk, supervisor or system account belongs to the office of its
division (None: the default division); an analyst or admin with a division reaches that
subtree only (None: the whole platform); an applicant has none. Every change takes the
acting admin's ``scope`` (its division; None: the whole platform, as the CLI acts): a scoped
admin manages only accounts inside its subtree and gives only divisions inside it, so a
district admin can neither create an account in another district nor make an account
that reaches beyond its own district (an unscoped analyst or admin, or an applicant, who
belongs to no district). Accounts outside the scope are not listed and read as unknown.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import Conflict, InvalidInput, NotAllowed, NotFound, Problem
from engine.people.actors import Actor, Role
from engine.people.changes import ACCOUNT_CHANGES
from engine.people.passwords import MAX_LENGTH as MAX_PASSWORD_LENGTH
from engine.people.passwords import password_problems
from engine.people.sign_in import SignInThrottle
from engine.regions.service import DEMO_OFFICE_DIVISIONS, Regions
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
# Scoped demo analysts and admins (分级授权): a district of 上海市 and a city of 浙江省.
DEMO_SCOPED_DIVISIONS = ("310101", "330100")
# The demo department systems of a province besides the default division's (system.<d>@330000).
DEMO_SYSTEM_DIVISION = "330000"


class _Keep(Enum):
    """The marker of an update argument left as it is (None is a value: no division)."""

    KEEP = "keep"


KEEP: Literal[_Keep.KEEP] = _Keep.KEEP


@dataclass(frozen=True)
class _Demo:
    """One demo account to make."""

    username: str
    role: Role
    departments: tuple[str, ...]
    label: str
    division: str | None = None
    supervisor: bool = False

    def row(self, password_hash: str) -> Account:
        """Its new ``accounts`` row."""
        return Account(
            username=self.username,
            password_hash=password_hash,
            role=self.role.value,
            departments=list(self.departments),
            display_name=self.label[:128],
            supervisor=self.supervisor,
            active=True,
            division=self.division,
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
    # The office's division (clerks, systems) or the reach (analysts, admins); see the module docstring.
    division: str | None = None

    @property
    def session_version(self) -> str:
        """What a page session records at sign-in and must still match: password and generation."""
        return f"{self.password_version}.{self.session_generation}"

    def actor(self) -> Actor:
        """The engine's view of this person (visibility and rights are checked against it)."""
        return Actor(
            self.username, self.role, frozenset(self.departments), self.supervisor, division=self.division
        )


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
        division=row.division,
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
        regions: Regions | None = None,
    ) -> None:
        self.db = db
        # The division tree for codes and scopes; None knows no division (every code is
        # refused and a scoped admin reaches nothing), as on a bare database in tests.
        self.regions = regions
        self.throttle = throttle or SignInThrottle(db)
        # Known department keys; None accepts any key (a database without processes/ at hand).
        self.departments = frozenset(departments) if departments is not None else None
        # Department names for the demo accounts' display names ({key: {zh, en}} when given).
        self.department_names: dict[str, str] = (
            {str(k): str(v.get("zh") or k) for k, v in departments.items() if isinstance(v, Mapping)}
            if isinstance(departments, Mapping)
            else {}
        )
        self.hasher = hasher or PasswordHasher()
        self._dummy_hash = self.hasher.hash("onething-timing-equaliser")

    # -- reading ---------------------------------------------------------------------
    def get(self, username: str, *, scope: str | None = None) -> AccountView:
        """One account by username (active or not); AccountNotFound when there is none in ``scope``."""
        with self.db.read() as session:
            row = session.scalar(select(Account).where(Account.username == username))
            if row is None or not self.within(scope, row.role, row.division):
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

    def list_accounts(self, *, scope: str | None = None) -> list[AccountView]:
        """Every account inside ``scope`` (None: all), by username."""
        with self.db.read() as session:
            rows = session.scalars(select(Account).order_by(Account.username))
            return [_view(row) for row in rows if self.within(scope, row.role, row.division)]

    def within(self, scope: str | None, role: Role | str, division: str | None) -> bool:
        """Whether an admin scoped to ``scope`` (None: the whole platform) manages such an account.

        Clerks and systems sit at their office (no division: the default one); analysts and
        admins reach their division's subtree, or everything without one; applicants belong to
        no division, so only an unscoped admin manages them.
        """
        if scope is None:
            return True
        if self.regions is None or role == Role.APPLICANT:
            return False
        if role in (Role.CLERK, Role.SYSTEM):
            return self.regions.in_scope(scope, self.regions.own(division))
        return division is not None and self.regions.in_scope(scope, division)

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
        with self._write() as session:
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
            with self._write() as session:
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
        division: str | None = None,
        scope: str | None = None,
        reservation: Reservation | None = None,
    ) -> AccountView:
        """A new account; InvalidInput lists every problem, Conflict when the username is taken.

        ``scope`` is the acting admin's division (None: the whole platform): NotAllowed when the
        account would lie outside it. ``reservation`` (an ``Idempotency-Key``'s) learns the
        account in the same transaction.
        """
        problems = self._check_username(username) + password_problems(password, username)
        role_value, departments_value, more = self._check_role(role, departments, supervisor)
        problems += more + self._check_division(role_value, division)
        if problems:
            raise InvalidInput("账户信息有误 (invalid account)", problems)
        self._check_scope(scope, role_value, division)
        return self._insert(
            username,
            self.hasher.hash(password),
            role_value,
            departments_value,
            display_name,
            supervisor,
            division=division,
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
        division: str | Literal[_Keep.KEEP] | None = KEEP,
        scope: str | None = None,
        reservation: Reservation | None = None,
    ) -> AccountView:
        """Change role, departments, name, supervisor or active flag, division or password: all or nothing.

        ``division`` None clears it (``KEEP`` leaves it). ``scope`` is the acting admin's
        division: an account outside it is unknown to it (AccountNotFound), and a change that
        would move the account outside it is NotAllowed. ``reservation`` (an
        ``Idempotency-Key``'s) learns the account in the same transaction, so a retry after a
        crash does not change the password (and end the sessions) a second time.
        """
        new_hash = None
        if password is not None:
            problems = password_problems(password, username)
            if problems:
                raise InvalidInput("密码不符合要求 (password refused)", problems)
            new_hash = self.hasher.hash(password)
        with self._write() as session:
            row = session.scalar(select(Account).where(Account.username == username))
            if row is None or not self.within(scope, row.role, row.division):
                raise AccountNotFound(f"没有此账户 (no account {username!r})")
            new_role = row.role if role is None else role
            new_departments = row.departments if departments is None else list(departments)
            new_supervisor = row.supervisor if supervisor is None else supervisor
            new_division = row.division if division is KEEP else division
            role_value, departments_value, problems = self._check_role(
                new_role, new_departments, new_supervisor
            )
            # An unchanged division that has since gone from the tree does not block other changes.
            if division is not KEEP or role is not None:
                problems += self._check_division(role_value, new_division)
            if problems:
                raise InvalidInput("账户信息有误 (invalid account)", problems)
            self._check_scope(scope, role_value, new_division)
            row.role = role_value.value
            row.departments = list(departments_value)
            row.supervisor = new_supervisor
            row.division = new_division
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

    def set_password(self, username: str, password: str, *, scope: str | None = None) -> AccountView:
        """Replace an account's password (tokens issued before stop working)."""
        return self.update(username, password=password, scope=scope)

    def disable(self, username: str, *, scope: str | None = None) -> AccountView:
        """Deactivate an account: it can no longer sign in, and its tokens stop working."""
        return self.update(username, active=False, scope=scope)

    def ensure_demo_accounts(self, departments: Iterable[str]) -> list[str]:
        """Create the design's demo accounts (password ``demo``) that do not exist yet; their names.

        Per department: ``clerk.<department>`` works its queue, ``supervisor.<department>``
        (a clerk with the supervisor flag) answers its complaints and escalations (督办), and
        ``system.<department>`` is the department's own system, which works its external tasks
        through /engine-rest (the example worker and ``onething demo`` sign in with it); all
        three at the default division. With the division tree at hand, also
        ``clerk.<department>@<division>`` and ``supervisor.<department>@<division>`` for each
        demo office that is open (``Regions.ensure_demo_offices`` opens them), each
        department's ``system.<department>@330000``, and the scoped ``admin@<division>`` and
        ``analyst@<division>`` of a district (310101) and a city (330100).
        """
        wanted = self._demo_wanted(sorted(set(departments)))
        with self.db.read() as session:
            names = [w.username for w in wanted]
            existing = set(session.scalars(select(Account.username).where(Account.username.in_(names))))
        missing = [demo for demo in wanted if demo.username not in existing]
        if not missing:
            return []
        demo_hash = self.hasher.hash(DEMO_PASSWORD)  # one hash for the one password: a blink to start
        try:
            with self._write() as session:  # hundreds of office accounts: one transaction
                session.add_all(demo.row(demo_hash) for demo in missing)
            return [demo.username for demo in missing]
        except IntegrityError:
            pass  # another process made some at the same moment: one by one, skipping those
        created: list[str] = []
        for demo in missing:
            try:
                with self._write() as session:
                    session.add(demo.row(demo_hash))
            except IntegrityError:
                continue
            created.append(demo.username)
        return created

    def demo_usernames(self, departments: Iterable[str]) -> list[str]:
        """The usernames of every demo account ``ensure_demo_accounts`` makes for these departments."""
        return [demo.username for demo in self._demo_wanted(sorted(set(departments)))]

    def _demo_wanted(self, departments: list[str]) -> list[_Demo]:
        """Every demo account for these departments (the office ones only with the tree at hand)."""
        wanted = [_Demo(name, role, (), label) for name, role, label in DEMO_ACCOUNTS]
        for department in departments:
            name = self.department_names.get(department, department)  # 市场监督管理局, not its key
            wanted += [
                _Demo(f"clerk.{department}", Role.CLERK, (department,), f"{name} 窗口人员 (clerk)"),
                _Demo(
                    f"supervisor.{department}",
                    Role.CLERK,
                    (department,),
                    f"{name} 督办人 (supervisor)",
                    supervisor=True,
                ),
                _Demo(
                    f"system.{department}",
                    Role.SYSTEM,
                    (department,),
                    f"{name} 部门系统 (department system)",
                ),
            ]
        if self.regions is None:
            return wanted
        # Only offices already open: opening the demo offices changes where tasks go, so that
        # is the caller's choice (``onething serve --demo`` does, before this).
        for office in self.regions.offices():
            if office.division not in DEMO_OFFICE_DIVISIONS or office.department not in departments:
                continue
            dept, div = office.department, office.division
            wanted += [
                _Demo(f"clerk.{dept}@{div}", Role.CLERK, (dept,), f"{office.name_zh} 窗口人员 (clerk)", div),
                _Demo(
                    f"supervisor.{dept}@{div}",
                    Role.CLERK,
                    (dept,),
                    f"{office.name_zh} 督办人 (supervisor)",
                    div,
                    supervisor=True,
                ),
            ]
        if self.regions.tree().known(DEMO_SYSTEM_DIVISION):
            for department in departments:
                label = f"{department}@{DEMO_SYSTEM_DIVISION} 部门系统 (department system)"
                wanted.append(
                    _Demo(
                        f"system.{department}@{DEMO_SYSTEM_DIVISION}",
                        Role.SYSTEM,
                        (department,),
                        label,
                        DEMO_SYSTEM_DIVISION,
                    )
                )
        for division in DEMO_SCOPED_DIVISIONS:
            if self.regions.tree().known(division):
                wanted += [
                    _Demo(
                        f"admin@{division}",
                        Role.ADMIN,
                        (),
                        f"{division} 辖区管理员 (administrator)",
                        division,
                    ),
                    _Demo(
                        f"analyst@{division}", Role.ANALYST, (), f"{division} 辖区分析员 (analyst)", division
                    ),
                ]
        return wanted

    # -- helpers ---------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[Session]:
        """A write to the accounts table; the process's change counter moves on once it ended.

        After the commit (or the rollback), so a cache that read the account before the
        change cannot keep the old row past it (``engine.people.changes``).
        """
        try:
            with self.db.write() as session:
                yield session
        finally:
            ACCOUNT_CHANGES.bump()

    def _insert(
        self,
        username: str,
        password_hash: str,
        role: Role,
        departments: tuple[str, ...],
        display_name: str,
        supervisor: bool,
        *,
        division: str | None = None,
        reservation: Reservation | None = None,
    ) -> AccountView:
        try:
            with self._write() as session:
                row = Account(
                    username=username,
                    password_hash=password_hash,
                    role=role.value,
                    departments=list(departments),
                    display_name=display_name[:128],
                    supervisor=supervisor,
                    active=True,
                    division=division,
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

    def _check_division(self, role: Role, division: str | None) -> list[Problem]:
        """A division must be a known code, and applicants have none."""
        if division is None:
            return []
        if role is Role.APPLICANT:
            return [
                Problem(
                    "申请人不属于行政区划",
                    where="division",
                    rule="no-division",
                    message_en="applicants belong to no division",
                )
            ]
        if self.regions is None or not self.regions.tree().known(division):
            return [
                Problem(
                    f"未知行政区划 {division!r}",
                    where="division",
                    rule="known-division",
                    message_en=f"unknown division {division!r}",
                )
            ]
        return []

    def _check_scope(self, scope: str | None, role: Role, division: str | None) -> None:
        """NotAllowed when the account would lie outside the acting admin's subtree."""
        if self.within(scope, role, division):
            return
        if role in (Role.CLERK, Role.SYSTEM) or (role is not Role.APPLICANT and division is not None):
            where = division or "默认行政区划 (the default division)"
            raise NotAllowed(
                f"只能管理本辖区 {scope} 内的账户，{where} 不在其内 "
                f"(you manage accounts of division {scope} and below only; {where} is outside it)"
            )
        raise NotAllowed(
            f"只能管理本辖区 {scope} 内的账户：申请人及不限辖区的分析员、管理员须由全平台管理员管理 "
            f"(you manage accounts of division {scope} and below only; applicants and analysts or "
            "admins reaching beyond it are managed by a platform-wide admin)"
        )

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
