"""``engine.storage.direct_rows``: a handled class's rows are read and written as the ORM's would be.

Rows read on the driver become the session's objects as an ORM query leaves them (an
object already held takes the fresh values; a column not read loads on first use). Two
mapped classes of the same shape (the engine's column types, a version counter, Python
defaults, a unique column) on two tables: one handled, one left to the ORM. The same changes
made to both leave the same rows and the same object states; an update names only what
changed and a row with no change gets no statement; a lost race on the version raises
``StaleDataError``; a flush holding other tables, a deletion or an SQL expression is the
ORM's alone; a failed write rolls back with the session. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import ForeignKey, String, event, exc, func, inspect, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.orm.exc import StaleDataError

from engine.storage import direct_rows
from engine.storage.db import Database
from engine.storage.models import BigId, JsonType, UtcDateTime
from engine.storage.prepared import Prepared

_serial = itertools.count(1)
AT = datetime(2025, 3, 3, 1, 30, tzinfo=UTC)


class _Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JsonType, datetime: UtcDateTime}  # noqa: RUF012


class Owner(_Base):
    """A row the things refer to (its table is written first)."""

    __tablename__ = "flush_owners"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(20))


class _Shape:
    """The columns both classes have: defaults, JSON, aware datetimes, a version counter."""

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    state: Mapped[str] = mapped_column(String(20), default="ready")
    token: Mapped[str] = mapped_column(String(40), default=lambda: f"t{next(_serial)}")
    at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    note: Mapped[str | None] = mapped_column(String(40), nullable=True)
    revision: Mapped[int] = mapped_column(default=1)


class Thing(_Shape, _Base):
    __tablename__ = "flush_things"
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("flush_owners.id"), nullable=True)
    __mapper_args__ = {"version_id_col": _Shape.revision}  # noqa: RUF012


class OrmThing(_Shape, _Base):
    __tablename__ = "flush_orm_things"
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("flush_owners.id"), nullable=True)
    __mapper_args__ = {"version_id_col": _Shape.revision}  # noqa: RUF012


direct_rows.handle(Owner, Thing)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    _Base.metadata.create_all(database.engine)
    yield database
    _Base.metadata.drop_all(database.engine)
    database.dispose()


@pytest.fixture
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL each statement ran, as the driver got it."""
    heard: list[str] = []

    def before(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        heard.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", before)
    yield heard
    event.remove(db.engine, "before_cursor_execute", before)


def _columns(obj: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(obj).items() if not k.startswith("_") and k != "id"}


def _rows(db: Database, cls: type[_Shape]) -> list[dict[str, Any]]:
    table = inspect(cls).local_table
    with db.read() as s:
        found = s.execute(select(table).order_by(table.c.name)).all()
    return [{k: v for k, v in r._asdict().items() if k != "id"} for r in found]


def _same_changes(db: Database, cls: type[Any]) -> list[dict[str, Any]]:
    """Inserts, updates of some columns, an update back to the loaded value, inserts after reads."""
    with db.write() as s:
        owner = Owner(name="o")
        s.add(owner)
        s.flush()
        s.add_all(
            [cls(name="a", at=AT, owner_id=owner.id), cls(name="b", detail={"名": "件"}), cls(name="c")]
        )
        s.flush()
        made = s.scalars(select(cls).order_by(cls.name)).all()
        states = [_columns(o) for o in made]
    with db.write() as s:
        a, b, c = s.scalars(select(cls).order_by(cls.name)).all()
        a.state = "claimed"
        a.detail = {"decided": True}
        b.note = b.note  # no net change: no statement, no new version
        c.state = "gone"
        c.state = "ready"  # back where it was
        s.add(cls(name="d", state="new"))
        s.flush()
        a.at = None  # a second change to a row already written in this transaction
        s.flush()
        states += [_columns(o) for o in (a, b, c)]
    return [*states, *_rows(db, cls)]


def _without_tokens(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in d.items() if k not in ("token", "owner_id")} for d in found]


def test_a_handled_class_ends_as_the_orms_flush_leaves_it(db: Database) -> None:
    mine, theirs = _same_changes(db, Thing), _same_changes(db, OrmThing)
    assert _without_tokens(mine) == _without_tokens(theirs)
    assert mine[0]["owner_id"] is not None and mine[0]["at"] == AT
    assert [r["revision"] for r in _rows(db, Thing)] == [3, 1, 1, 1]  # a: updated twice; b, c: no change
    assert len({r["token"] for r in _rows(db, Thing)}) == 4  # a callable default once per row


def test_an_update_names_what_changed_and_a_clean_row_gets_no_statement(
    db: Database, statements: list[str]
) -> None:
    with db.write() as s:
        s.add_all([Thing(name="a"), Thing(name="b")])
    with db.write() as s:
        a, b = s.scalars(select(Thing).order_by(Thing.name)).all()
        statements.clear()
        a.state = "claimed"
        b.state = b.state
        s.flush()
        assert len(statements) == 1
        assert statements[0].startswith("UPDATE flush_things SET state=")
        assert "revision=" in statements[0] and "detail" not in statements[0]
        assert inspect(a).persistent and not s.dirty and not s.new
        s.flush()  # nothing left to write
        assert len(statements) == 1
        assert a.revision == 2 and b.revision == 1


def test_an_insert_fills_defaults_gives_the_id_and_leaves_the_row_persistent_and_clean(
    db: Database, statements: list[str]
) -> None:
    with db.write() as s:
        thing = Thing(name="n")
        s.add(thing)
        s.flush()
        assert len(statements) == 1 and statements[0].startswith("INSERT INTO flush_things")
        assert thing.id is not None and inspect(thing).persistent and not s.new
        assert (thing.state, thing.detail, thing.note, thing.revision) == ("ready", {}, None, 1)
        assert s.get(Thing, thing.id) is thing  # in the identity map under its id
        thing.note = "later"
        s.flush()
        assert statements[-1].startswith("UPDATE flush_things SET note=")
    with db.read() as s:
        assert s.execute(select(Thing.note, Thing.revision)).one() == ("later", 2)


def test_an_update_that_lost_the_race_on_the_version_raises_stale_data(db: Database) -> None:
    with db.write() as s:
        s.add(Thing(name="a"))
    with pytest.raises(StaleDataError, match="expected to update 1 row"), db.write() as s:
        a = s.scalars(select(Thing)).one()
        # Another writer moved the version after this one read the row.
        s.connection().execute(update(Thing).where(Thing.id == a.id).values(revision=Thing.revision + 1))
        a.state = "claimed"
        s.flush()
    with db.read() as s:
        # The transaction rolled back whole, the other writer's stand-in with it.
        assert s.execute(select(Thing.state, Thing.revision)).one() == ("ready", 1)


def test_a_flush_with_other_tables_a_deletion_or_an_expression_is_the_orms(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[str] = []
    update_row, insert_row = direct_rows._Table.write_update, direct_rows._Table.write_insert

    def spied_update(table: Any, session: Any, obj: Any) -> None:
        written.append(f"update {obj.name}")
        update_row(table, session, obj)

    def spied_insert(table: Any, session: Any, obj: Any) -> None:
        written.append(f"insert {obj.name}")
        insert_row(table, session, obj)

    monkeypatch.setattr(direct_rows._Table, "write_update", spied_update)
    monkeypatch.setattr(direct_rows._Table, "write_insert", spied_insert)
    with db.write() as s:
        s.add_all([Thing(name="a"), Thing(name="b"), OrmThing(name="x")])  # another table: the ORM's
        s.flush()
        assert written == []
        a, b = s.scalars(select(Thing).order_by(Thing.name)).all()
        a.state = "claimed"
        s.delete(b)  # a deletion: the ORM's
        s.flush()
        assert written == []
        a.note = func.upper("shouted")  # an SQL expression: the ORM's
        s.flush()
        assert written == []
        a.state = "done"
        s.flush()
        assert written == ["update a"]
    with db.read() as s:
        assert s.execute(select(Thing.name, Thing.state, Thing.note, Thing.revision)).all() == [
            ("a", "done", "SHOUTED", 4)
        ]


def test_a_failed_write_raises_the_drivers_error_and_rolls_back_with_the_session(db: Database) -> None:
    with db.write() as s:
        s.add(Thing(name="a"))
    with pytest.raises(exc.IntegrityError), db.write() as s:
        a = s.scalars(select(Thing)).one()
        a.state = "claimed"
        s.add(Thing(name="a"))  # the name is unique
        s.flush()
    with db.read() as s:
        assert s.execute(select(Thing.name, Thing.state, Thing.revision)).all() == [("a", "ready", 1)]


def test_rows_read_on_the_driver_are_the_sessions_objects_as_an_orm_query_leaves_them(
    db: Database, statements: list[str]
) -> None:
    with db.write() as s:
        s.add_all([Thing(name="a", detail={"名": "件"}, at=AT), Thing(name="b")])
    table = inspect(Thing).local_table
    without_detail = Prepared(select(*(c for c in table.c if c.key != "detail")).order_by(table.c.name))
    with db.write() as s:
        held = s.scalars(select(Thing).where(Thing.name == "b")).one()
        assert held.detail == {}
        s.connection().execute(update(Thing).where(Thing.name == "b").values(state="moved", detail={"n": 1}))
        a, b = direct_rows.attach(s, Thing, without_detail.rows(s))
        assert b is held and b.state == "moved"  # the object held takes the values read ...
        assert b.detail == {"n": 1}  # ... and reads again what it had loaded but this read did not
        assert not s.dirty and not s.new and inspect(a).persistent
        assert s.get(Thing, a.id) is a  # keyed by its id
        assert (a.name, a.at, a.revision) == ("a", AT, 1)
        statements.clear()
        assert a.detail == {"名": "件"}  # a column not read loads on first use ...
        assert len(statements) == 1 and statements[0].startswith("SELECT")
        a.state = "claimed"
        s.flush()  # ... and a change is written like any other
        assert statements[-1].startswith("UPDATE flush_things SET state=")
    with db.read() as s:
        assert s.execute(select(Thing.name, Thing.state, Thing.revision).order_by(Thing.name)).all() == [
            ("a", "claimed", 2),
            ("b", "moved", 1),
        ]


def test_an_unsuitable_class_is_refused() -> None:
    class Served(_Base):
        __tablename__ = "flush_served"
        id: Mapped[int] = mapped_column(BigId, primary_key=True)
        kind: Mapped[str] = mapped_column(String(10), server_default="x")

    with pytest.raises(ValueError, match="server-side default"):
        direct_rows.handle(Served)
