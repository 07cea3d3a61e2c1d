"""The regions service: the division tree and offices of the platform, routing, admin edits.

Routing and visibility read the tree and the office list on every task, so both are kept
in memory per process as one snapshot: dropped on every edit made through this service, and
reloaded at most every ``RELOAD_SECONDS`` otherwise, so another process's edits show within
that time. The default division (``Settings.default_division``) has an office of every
department without a row: tasks that find no nearer office, and cases of an unknown
division, are handled there.

``scope`` arguments are the acting admin's division (None: the whole platform); the role
rules (who may edit at all) stay with the callers in ``engine.people`` and the API.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from engine.errors import Conflict, InvalidInput, NotAllowed, NotFound, Problem
from engine.regions.loading import read_department_names, read_divisions_dir, valid_code
from engine.regions.tree import Division, DivisionTree, Level
from engine.storage.db import Database, upsert_insert
from engine.storage.idempotency import Reservation, outcome_ref, record_outcome
from engine.storage.models import Division as DivisionRow
from engine.storage.models import Office as OfficeRow
from engine.storage.models import table_of, utcnow
from engine.storage.settings import Settings

RELOAD_SECONDS = 30.0
# The demo platform's offices besides the default division (docs/regions.md): two districts
# of 上海市, and 浙江省 at province, city (杭州市) and two of its districts.
DEMO_OFFICE_DIVISIONS = ("310101", "310104", "330000", "330100", "330102", "330105")
_OFFICE_TEXT_LIMITS = {"name_zh": 128, "name_en": 255, "phone": 64, "address": 255, "hours": 128}


@dataclass(frozen=True)
class OfficeView:
    """An office as callers see it: its names (explicit or derived) and contacts.

    ``id`` is None for an implicit office of the default division that has no row.
    """

    id: int | None
    department: str
    division: str
    name_zh: str
    name_en: str
    phone: str
    address: str
    hours: str
    implicit: bool = False


@dataclass(frozen=True)
class _Snapshot:
    tree: DivisionTree
    offices: dict[tuple[str, str], OfficeRow]
    loaded_at: float
    # (department, division, lang) -> office name: every task view names its office.
    names: dict[tuple[str, str, str], str] = field(default_factory=dict)


def _row_division(row: DivisionRow) -> Division:
    return Division(row.code, row.name_zh, row.name_en, Level(row.level), row.parent)


class Regions:
    """The division tree, the offices and routing of one platform (one per process)."""

    def __init__(
        self, db: Database, settings: Settings, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.db = db
        self.default = settings.default_division
        self._processes_dir = settings.processes_dir
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._departments: dict[str, tuple[str, str]] | None = None

    # -- the cached snapshot ------------------------------------------------------------

    def _current(self) -> _Snapshot:
        snapshot = self._snapshot
        now = self._monotonic()
        if snapshot is not None and now - snapshot.loaded_at < RELOAD_SECONDS:
            return snapshot
        with self._lock:
            snapshot = self._snapshot
            if snapshot is not None and now - snapshot.loaded_at < RELOAD_SECONDS:
                return snapshot
            with self.db.read() as session:
                rows = session.scalars(select(DivisionRow).where(DivisionRow.active.is_(True))).all()
                offices = session.scalars(select(OfficeRow)).all()
            snapshot = _Snapshot(
                DivisionTree(_row_division(r) for r in rows),
                {(o.department, o.division): o for o in offices},
                now,
            )
            self._snapshot = snapshot
            return snapshot

    def invalidate(self) -> None:
        """Forget the cached tree and offices (the next read loads them again)."""
        with self._lock:
            self._snapshot = None

    def tree(self) -> DivisionTree:
        """The division tree (cached; see the module docstring)."""
        return self._current().tree

    def departments(self) -> dict[str, tuple[str, str]]:
        """Department key -> (zh, en) names from ``processes/departments.yaml``."""
        if self._departments is None:
            self._departments = read_department_names(self._processes_dir)
        return self._departments

    # -- reading ------------------------------------------------------------------------

    def own(self, division: str | None) -> str:
        """The division, or the default one for an account or case without a division."""
        return division if division is not None else self.default

    def home(self, code: str | None) -> str:
        """Where a case of this division is handled: the known code, else the default.

        A township code (9 or 12 digits) missing from the tree is handled by the nearest
        known code it starts with (its township, then its county).
        """
        if code is None:
            return self.default
        tree = self.tree()
        if tree.known(code):
            return code
        for length in (9, 6):
            if len(code) > length and tree.known(code[:length]):
                return code[:length]
        return self.default

    def chain(self, code: str | None) -> tuple[str, ...]:
        """The home division of the code and its ancestors, nearest first (variant lookup order)."""
        home = self.home(code)
        return self.tree().ancestors(home) or (home,)

    def subtree(self, division: str | None) -> frozenset[str] | None:
        """The division and every division below it; None (every division) for None."""
        if division is None:
            return None
        return self.tree().subtree(division)

    def in_scope(self, scope: str | None, code: str) -> bool:
        """Whether the code is within the scope's subtree (scope None: the whole platform)."""
        return scope is None or code in self.tree().subtree(scope)

    def full_name(self, code: str, lang: str = "zh") -> str:
        """The division's name with its ancestors' ("上海市浦东新区"); the code if unknown."""
        return self.tree().full_name(code, lang)

    def has_office(self, department: str, division: str) -> bool:
        """Whether the department has an office in the division (always at the default)."""
        return division == self.default or (department, division) in self._current().offices

    def route(self, department: str, division: str | None, decided_at: str = "county") -> str:
        """The division of the office that handles a department's task for a case of ``division``.

        From the home division, up to the level the item is decided at, then up to the
        nearest division with an office of the department; none on the way: the default.
        """
        snapshot = self._current()
        tree = snapshot.tree
        start = tree.at_level(self.home(division), Level(decided_at))
        for code in tree.ancestors(start):
            if code == self.default or (department, code) in snapshot.offices:
                return code
        return self.default

    def _department_name(self, department: str, lang: str) -> str:
        names = self.departments().get(department)
        if names is None:
            return department
        return names[0] if lang == "zh" else names[1]

    def _derived_name(self, department: str, division: str, lang: str) -> str:
        place = self.tree().full_name(division, lang)
        if lang == "zh":
            return f"{place}{self._department_name(department, 'zh')}"
        return f"{self._department_name(department, 'en')}, {place}"

    def _view(self, department: str, division: str, row: OfficeRow | None) -> OfficeView:
        if row is None:
            return OfficeView(
                None,
                department,
                division,
                self._derived_name(department, division, "zh"),
                self._derived_name(department, division, "en"),
                "",
                "",
                "",
                implicit=True,
            )
        return OfficeView(
            row.id,
            department,
            division,
            row.name_zh or self._derived_name(department, division, "zh"),
            row.name_en or self._derived_name(department, division, "en"),
            row.phone,
            row.address,
            row.hours,
        )

    def office_name(self, department: str, division: str, lang: str = "zh") -> str:
        """The office's name ("上海市黄浦区市场监督管理局" unless the office row names it)."""
        snapshot = self._current()
        key = (department, division, lang)
        name = snapshot.names.get(key)
        if name is None:
            row = snapshot.offices.get((department, division))
            explicit = "" if row is None else row.name_zh if lang == "zh" else row.name_en
            name = explicit or self._derived_name(department, division, lang)
            snapshot.names[key] = name
        return name

    def office(self, department: str, division: str) -> OfficeView:
        """The office of the department in the division; ``NotFound`` when there is none."""
        row = self._current().offices.get((department, division))
        if row is None and division != self.default:
            raise NotFound(f"没有该办理机构 (no office of {department} at {division})")
        return self._view(department, division, row)

    def offices(self, division: str | None = None, department: str | None = None) -> list[OfficeView]:
        """The offices, filtered by exact division and department, in (division, department) order.

        The default division's implicit offices (every department of ``departments.yaml``)
        are listed too, unless a row describes them.
        """
        rows = dict(self._current().offices)
        keys = set(rows)
        if division in (None, self.default):
            keys |= {(d, self.default) for d in self.departments()}
        found = [
            self._view(dept, div, rows.get((dept, div)))
            for dept, div in keys
            if (division is None or div == division) and (department is None or dept == department)
        ]
        return sorted(found, key=lambda o: (o.division, o.department))

    # -- admin edits --------------------------------------------------------------------

    def _require_known(self, code: str) -> Division:
        division = self.tree().get(code)
        if division is None:
            raise NotFound(f"没有该行政区划 (no division {code})")
        return division

    def _require_scope(self, scope: str | None, code: str) -> None:
        if not self.in_scope(scope, code):
            raise NotAllowed(
                f"行政区划 {code} 不在管理范围内 (division {code} is outside your scope {scope})"
            )

    @staticmethod
    def _check_texts(texts: Mapping[str, str | None]) -> None:
        problems = [
            Problem(f"{name} 过长", where=name, rule="length", message_en=f"{name} longer than {limit}")
            for name, limit in _OFFICE_TEXT_LIMITS.items()
            if (texts.get(name) or "") and len(texts[name] or "") > limit
        ]
        if problems:
            raise InvalidInput("办理机构信息有误 (office fields have problems)", problems)

    def add_office(
        self,
        scope: str | None,
        department: str,
        division: str,
        *,
        name_zh: str = "",
        name_en: str = "",
        phone: str = "",
        address: str = "",
        hours: str = "",
        reservation: Reservation | None = None,
    ) -> OfficeView:
        """Open an office of the department in the division (inside the admin's scope).

        ``reservation`` (an ``Idempotency-Key``'s) learns the office in the same transaction.
        """
        self._require_known(division)
        self._require_scope(scope, division)
        if department not in self.departments():
            raise InvalidInput(
                "未知部门 (unknown department)",
                [
                    Problem(
                        f"部门 {department!r} 不在 departments.yaml 中",
                        where="department",
                        rule="known",
                        message_en=f"department {department!r} is not in departments.yaml",
                    )
                ],
            )
        texts = {"name_zh": name_zh, "name_en": name_en, "phone": phone, "address": address, "hours": hours}
        self._check_texts(texts)
        try:
            with self.db.write() as session:
                row = OfficeRow(department=department, division=division, **texts)
                session.add(row)
                session.flush()
                record_outcome(session, reservation, outcome_ref("office", row.id))
        except IntegrityError as exc:
            raise Conflict(f"该办理机构已存在 (office of {department} at {division} exists)") from exc
        finally:
            self.invalidate()
        return self._view(department, division, row)

    def update_office(
        self,
        scope: str | None,
        office_id: int,
        *,
        name_zh: str | None = None,
        name_en: str | None = None,
        phone: str | None = None,
        address: str | None = None,
        hours: str | None = None,
    ) -> OfficeView:
        """Change an office's names or contacts (fields left None keep their value)."""
        texts = {"name_zh": name_zh, "name_en": name_en, "phone": phone, "address": address, "hours": hours}
        self._check_texts(texts)
        with self.db.write() as session:
            row = session.get(OfficeRow, office_id, with_for_update=True)
            if row is None:
                raise NotFound(f"没有该办理机构 (no office {office_id})")
            self._require_scope(scope, row.division)
            for name, value in texts.items():
                if value is not None:
                    setattr(row, name, value)
        self.invalidate()
        return self._view(row.department, row.division, row)

    def add_division(
        self,
        scope: str | None,
        code: str,
        name_zh: str,
        name_en: str,
        level: str,
        parent: str | None,
        *,
        reservation: Reservation | None = None,
    ) -> Division:
        """Add a division below ``parent`` (a root only for a whole-platform admin).

        ``reservation`` (an ``Idempotency-Key``'s) learns the code in the same transaction.
        """
        problems: list[Problem] = []
        if not valid_code(code):
            problems.append(
                Problem(
                    "代码须为 6、9 或 12 位数字",
                    where="code",
                    rule="code",
                    message_en="code must be 6, 9 or 12 digits (GB/T 2260)",
                )
            )
        if not name_zh.strip() or len(name_zh) > 64:
            problems.append(
                Problem(
                    "中文名称必填，最多 64 字",
                    where="name_zh",
                    rule="length",
                    message_en="name_zh is required, at most 64 characters",
                )
            )
        if len(name_en) > 128:
            problems.append(
                Problem(
                    "英文名称过长",
                    where="name_en",
                    rule="length",
                    message_en="name_en longer than 128 characters",
                )
            )
        try:
            new_level: Level | None = Level(level)
        except ValueError:
            new_level = None
            problems.append(
                Problem(
                    "层级无效",
                    where="level",
                    rule="level",
                    message_en=f"level must be one of {[lv.value for lv in Level]}",
                )
            )
        if parent is None:
            if scope is not None:
                raise NotAllowed("只有全平台管理员可以新增省级区划 (only a platform admin adds a root)")
        else:
            parent_division = self._require_known(parent)
            self._require_scope(scope, parent)
            if new_level is not None and new_level.rank <= parent_division.level.rank:
                problems.append(
                    Problem(
                        "层级须低于上级区划",
                        where="level",
                        rule="level",
                        message_en=f"level {level} is not below the parent's",
                    )
                )
        if problems:
            raise InvalidInput("行政区划信息有误 (division fields have problems)", problems)
        assert new_level is not None
        now = utcnow()
        try:
            with self.db.write() as session:
                session.add(
                    DivisionRow(
                        code=code,
                        name_zh=name_zh.strip(),
                        name_en=name_en.strip(),
                        level=new_level.value,
                        parent=parent,
                        active=True,
                        created_at=now,
                        updated_at=now,
                    )
                )
                session.flush()
                record_outcome(session, reservation, outcome_ref("division", int(code)))
        except IntegrityError as exc:
            raise Conflict(f"行政区划 {code} 已存在 (division {code} exists)") from exc
        finally:
            self.invalidate()
        return Division(code, name_zh.strip(), name_en.strip(), new_level, parent)

    def rename_division(
        self, scope: str | None, code: str, name_zh: str | None = None, name_en: str | None = None
    ) -> Division:
        """Rename a division inside the admin's scope (fields left None keep their value)."""
        self._require_known(code)
        self._require_scope(scope, code)
        problems: list[Problem] = []
        if name_zh is not None and (not name_zh.strip() or len(name_zh) > 64):
            problems.append(
                Problem(
                    "中文名称必填，最多 64 字",
                    where="name_zh",
                    rule="length",
                    message_en="name_zh is required, at most 64 characters",
                )
            )
        if name_en is not None and len(name_en) > 128:
            problems.append(
                Problem(
                    "英文名称过长",
                    where="name_en",
                    rule="length",
                    message_en="name_en longer than 128 characters",
                )
            )
        if problems:
            raise InvalidInput("行政区划信息有误 (division fields have problems)", problems)
        with self.db.write() as session:
            row = session.get(DivisionRow, code, with_for_update=True)
            if row is None:
                raise NotFound(f"没有该行政区划 (no division {code})")
            if name_zh is not None:
                row.name_zh = name_zh.strip()
            if name_en is not None:
                row.name_en = name_en.strip()
            row.updated_at = utcnow()
            renamed = _row_division(row)
        self.invalidate()
        return renamed

    def set_active(self, scope: str | None, code: str, active: bool) -> Division:
        """Withdraw a division from the tree (撤销: nothing routes to it, no account or office is
        made in it) or bring it back; its row, offices and accounts stay.

        A withdrawn division is outside the tree, so its scope is its parent's. The default
        division and a division with divisions in force below it cannot be withdrawn
        (Conflict), nor can an admin withdraw its own division (NotAllowed).
        """
        tree = self.tree()  # read before the write transaction opens
        with self.db.write() as session:
            row = session.get(DivisionRow, code, with_for_update=True)
            if row is None:
                raise NotFound(f"没有该行政区划 (no division {code})")
            anchor = code if row.active else row.parent
            reach = tree.subtree(scope) if scope is not None else None
            if reach is not None and (anchor not in reach or code == scope):
                raise NotAllowed(
                    f"行政区划 {code} 不在管理范围内 (division {code} is outside your scope {scope})"
                )
            if not active and code == self.default:
                raise Conflict(f"默认行政区划 {code} 不能撤销 (the default division cannot be withdrawn)")
            if not active and tree.children(code):
                raise Conflict(
                    f"行政区划 {code} 下仍有下级区划，先撤销下级 (withdraw those below {code} first)"
                )
            row.active = active
            row.updated_at = utcnow()
            changed = _row_division(row)
        self.invalidate()
        return changed

    def withdrawn(self) -> list[Division]:
        """The withdrawn divisions (outside the tree), by code."""
        with self.db.read() as session:
            rows = session.scalars(
                select(DivisionRow).where(DivisionRow.active.is_(False)).order_by(DivisionRow.code)
            ).all()
            return [_row_division(r) for r in rows]

    # -- shipped data -------------------------------------------------------------------

    def load_shipped(self, directory: Path) -> int:
        """Insert the shipped divisions whose codes are new; how many were inserted.

        Existing codes are left alone, so an admin's renames survive every start; two
        processes starting together insert each code once.
        """
        divisions = read_divisions_dir(directory)
        if not divisions:
            return 0
        now = utcnow()
        table = table_of(DivisionRow)
        with self.db.read() as session:
            existing = set(session.scalars(select(DivisionRow.code)))
        fresh = [d for d in divisions if d.code not in existing]
        if not fresh:
            return 0
        with self.db.write() as session:
            statement = upsert_insert(session, table).on_conflict_do_nothing(index_elements=["code"])
            session.execute(
                statement,
                [
                    {
                        "code": d.code,
                        "name_zh": d.name_zh,
                        "name_en": d.name_en,
                        "level": d.level.value,
                        "parent": d.parent,
                        "active": True,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for d in fresh
                ],
            )
        self.invalidate()
        return len(fresh)

    def ensure_demo_offices(self) -> int:
        """Open every department's office at the demo divisions (known ones); how many were new."""
        tree = self.tree()
        wanted = [
            (department, division)
            for division in DEMO_OFFICE_DIVISIONS
            if tree.known(division)
            for department in sorted(self.departments())
        ]
        now = utcnow()
        with self.db.write() as session:
            existing = {(d, v) for d, v in session.execute(select(OfficeRow.department, OfficeRow.division))}
            missing = [key for key in wanted if key not in existing]
            if not missing:
                return 0
            statement = upsert_insert(session, table_of(OfficeRow)).on_conflict_do_nothing(
                index_elements=["department", "division"]
            )
            session.execute(
                statement,
                [
                    {
                        "department": dept,
                        "division": div,
                        "name_zh": "",
                        "name_en": "",
                        "phone": "",
                        "address": "",
                        "hours": "",
                        "created_at": now,
                    }
                    for dept, div in missing
                ],
            )
        self.invalidate()
        return len(missing)
