"""``engine.storage.prepared``: hot Core statements on the driver give what SQLAlchemy gives.

On SQLite and PostgreSQL, against a table with the engine's own column types (UTC datetimes,
JSON, big ids, booleans) and Python-side defaults: rows read through ``Prepared`` equal the
rows SQLAlchemy reads, writes commit and roll back with the session's transaction, an
``IN`` list of any length binds, driver errors surface as SQLAlchemy's, and the statement
listeners (the benchmarks count statements with them) hear every statement.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    exc,
    insert,
    or_,
    select,
    update,
)

from engine.storage.db import Database
from engine.storage.models import BigId, JsonType, UtcDateTime
from engine.storage.prepared import Prepared

_serial = itertools.count(1)
METADATA = MetaData()
THINGS = Table(
    "prepared_things",
    METADATA,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(40), nullable=False, unique=True),
    Column("state", String(20), nullable=False, default="ready"),
    Column("token", String(40), nullable=False, default=lambda: f"t{next(_serial)}"),
    Column("at", UtcDateTime, nullable=True),
    Column("detail", JsonType, nullable=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("revision", String(10), nullable=True, default="new", onupdate="changed"),
)
T = THINGS.c
AT = datetime(2025, 3, 3, 1, 30, tzinfo=UTC)

INSERT = Prepared(insert(THINGS))
BY_STATE = select(T.id, T.name, T.state, T.token, T.at, T.detail, T.active).where(
    T.state == bindparam("state"), T.active.is_(True)
)
CLAIM = (
    update(THINGS)
    .where(T.name.in_(bindparam("names", expanding=True)), T.state == "ready")
    .values(state="claimed", at=bindparam("now"))
    .returning(T.id, T.name, T.at, T.detail)
)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    METADATA.create_all(database.engine)
    yield database
    METADATA.drop_all(database.engine)
    database.dispose()


def _fill(db: Database, count: int = 4) -> None:
    with db.write() as s:
        INSERT.many(
            s,
            [
                {"name": f"n{i}", "at": AT + timedelta(minutes=i), "detail": {"i": i, "名": "件"}}
                for i in range(count)
            ],
        )


def test_rows_read_on_the_driver_equal_sqlalchemys_and_python_defaults_fill_missing_columns(
    db: Database,
) -> None:
    _fill(db)
    query = Prepared(BY_STATE)
    with db.read() as s:
        mine = query.rows(s, {"state": "ready"})
        theirs = s.connection().execute(BY_STATE, {"state": "ready"}).all()
    assert [tuple(r) for r in mine] == [tuple(r) for r in theirs]
    assert len(mine) == 4
    first = mine[0]
    assert first.at == AT and first.at.tzinfo is not None  # UtcDateTime read back as aware UTC
    assert first.detail == {"i": 0, "名": "件"}
    assert first.state == "ready" and first.active is True  # the columns' defaults
    assert len({r.token for r in mine}) == 4  # a callable default runs once per row
    assert dict(first._mapping) == dict(theirs[0]._mapping)  # read by name as SQLAlchemy's rows are
    with db.read() as s:  # a parameter used twice is bound twice
        after = Prepared(
            select(T.name).where(or_(T.at > bindparam("after"), T.at == bindparam("after"))).order_by(T.name)
        ).rows(s, {"after": AT + timedelta(minutes=2)})
    assert [r.name for r in after] == ["n2", "n3"]
    with db.read() as s:  # a list written into the statement binds as the given ones do
        listed = Prepared(select(T.name).where(T.state.in_(["ready", "gone"])).order_by(T.name)).rows(s)
    assert [r.name for r in listed] == ["n0", "n1", "n2", "n3"]


def test_an_update_returning_binds_in_lists_of_any_length_and_an_empty_one(db: Database) -> None:
    _fill(db)
    claim = Prepared(CLAIM)
    later = AT + timedelta(days=1)
    with db.write() as s:
        one = claim.rows(s, {"names": ["n1"], "now": later})
        two = claim.rows(s, {"names": ["n2", "n3", "nobody"], "now": later})
        none = claim.rows(s, {"names": [], "now": later})  # SQLAlchemy renders the empty IN
        again = claim.rows(s, {"names": ["n1"], "now": later})  # already claimed
    assert [r.name for r in one] == ["n1"] and one[0].at == later
    assert sorted(r.name for r in two) == ["n2", "n3"]
    assert none == [] and again == []
    with db.read() as s:
        states = {name: state for name, state in s.execute(select(T.name, T.state))}
    assert states == {"n0": "ready", "n1": "claimed", "n2": "claimed", "n3": "claimed"}


def test_writes_belong_to_the_sessions_transaction(db: Database) -> None:
    _fill(db, 1)
    with pytest.raises(RuntimeError, match="changed my mind"), db.write() as s:
        INSERT.many(s, [{"name": "gone"}])
        assert Prepared(select(T.name).where(T.name == "gone")).scalar(s) == "gone"
        raise RuntimeError("changed my mind")
    with db.read() as s:
        assert Prepared(select(T.name).order_by(T.name)).rows(s) == [("n0",)]


def test_driver_errors_are_sqlalchemys_and_missing_parameters_are_named(db: Database) -> None:
    _fill(db, 2)
    with pytest.raises(exc.IntegrityError), db.write() as s:
        INSERT.many(s, [{"name": "n0"}])  # the name is unique
    with pytest.raises(exc.ArgumentError, match="state"), db.read() as s:
        Prepared(BY_STATE).rows(s, {})
    with db.read() as s:
        with pytest.raises(exc.MultipleResultsFound):
            Prepared(select(T.id)).one_or_none(s)
        assert Prepared(select(T.id).where(T.name == "nobody")).one_or_none(s) is None
        with pytest.raises(exc.NoResultFound):
            Prepared(select(T.id).where(T.name == "nobody")).one(s)


def test_statement_listeners_hear_each_statement(db: Database) -> None:
    heard: list[tuple[str, bool]] = []
    done: list[str] = []

    def before(_c: Any, _cur: Any, statement: str, _p: Any, _ctx: Any, many: bool) -> None:
        heard.append((statement.split()[0], many))

    def after(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        done.append(statement.split()[0])

    event.listen(db.engine, "before_cursor_execute", before)
    event.listen(db.engine, "after_cursor_execute", after)
    try:
        _fill(db, 2)
        with db.write() as s:
            Prepared(CLAIM).rows(s, {"names": ["n0"], "now": AT})
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
        event.remove(db.engine, "after_cursor_execute", after)
    assert heard == [("INSERT", True), ("UPDATE", False)]
    assert done == ["INSERT", "UPDATE"]


def test_an_update_without_values_sets_the_columns_given_by_name_and_its_onupdate_defaults_and_counts_rows(
    db: Database,
) -> None:
    _fill(db, 3)
    keyed = Prepared(update(THINGS).where(T.name == bindparam("k_name")))
    with db.write() as s:
        keyed.rows(s, {"k_name": "n1", "state": "done", "detail": {"why": "所以"}})
        assert keyed.count(s, {"k_name": "n0", "active": False}) == 1  # the rows it changed
        assert keyed.count(s, {"k_name": "nobody", "active": False}) == 0
    with db.read() as s:
        rows = {r.name: r for r in Prepared(select(T.name, T.state, T.detail, T.active, T.revision)).rows(s)}
    assert (rows["n1"].state, rows["n1"].detail, rows["n1"].active) == ("done", {"why": "所以"}, True)
    assert (rows["n0"].state, rows["n0"].detail, rows["n0"].active) == ("ready", {"i": 0, "名": "件"}, False)
    assert rows["n0"].revision == rows["n1"].revision == "changed"  # the column's onupdate
    assert rows["n2"].revision == "new"  # not updated: the insert's default
