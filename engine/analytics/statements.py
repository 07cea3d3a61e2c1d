"""The statements that change aggregate rows: counter upserts, and a locked read with its update.

Recording (ratings, complaints, tasks gone overdue) and the projection of queued facts both
write the aggregate rows, once per event or once per row of a batch, so the statements are
Core statements built once per shape and run on the session's driver connection
(``Prepared``): no ORM unit of work, no autoflush (``Session.execute`` would flush every
pending change first; these statements touch only the aggregate tables, which the ORM never
has pending changes for), and none of SQLAlchemy's per-execution work.

May import: ``engine.storage``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from engine.storage.db import upsert_insert
from engine.storage.prepared import Prepared

_KEY_PARAM = "k_"  # prefix of the WHERE parameters of an UPDATE (its SET parameters are column names)
_statements: dict[tuple[Any, ...], Prepared] = {}


def upsert(
    session: Session,
    table: Table,
    keys: tuple[str, ...],
    add: tuple[str, ...],
    put: tuple[str, ...] = (),
) -> Prepared:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE``: columns ``add`` are added to, ``put`` replaced.

    Without ``add`` and ``put`` it is ``ON CONFLICT DO NOTHING``. The values are the execute
    parameters (named as the columns); columns without one get their defaults on insert.
    """
    cache_key = ("upsert", session.connection().dialect.name, table, keys, add, put)
    statement = _statements.get(cache_key)
    if statement is None:
        insert = upsert_insert(session, table)
        if add or put:
            changes = {name: table.c[name] + insert.excluded[name] for name in add}
            changes.update({name: insert.excluded[name] for name in put})
            statement = Prepared(insert.on_conflict_do_update(index_elements=list(keys), set_=changes))
        else:
            statement = Prepared(insert.on_conflict_do_nothing(index_elements=list(keys)))
        _statements[cache_key] = statement
    return statement


def bump(session: Session, table: Table, keys: Mapping[str, Any], increments: Mapping[str, Any]) -> None:
    """Add to counters of one row, creating it if missing, atomically (INSERT ... ON CONFLICT)."""
    upsert(session, table, tuple(keys), tuple(increments)).rows(session, {**keys, **increments})


def _locking_select(table: Table, keys: tuple[str, ...], columns: tuple[str, ...]) -> Prepared:
    cache_key = ("select", table, keys, columns)
    statement = _statements.get(cache_key)
    if statement is None:
        statement = _statements[cache_key] = Prepared(
            select(*(table.c[c] for c in columns))
            .where(*(table.c[k] == bindparam(k) for k in keys))
            .with_for_update()
        )
    return statement


def _keyed_update(table: Table, keys: tuple[str, ...]) -> Prepared:
    """``UPDATE table SET <the parameters named as columns> WHERE <keys = k_ parameters>``."""
    cache_key = ("update", table, keys)
    statement = _statements.get(cache_key)
    if statement is None:
        statement = _statements[cache_key] = Prepared(
            update(table).where(*(table.c[k] == bindparam(_KEY_PARAM + k) for k in keys))
        )
    return statement


def locked_row(session: Session, table: Table, keys: Mapping[str, Any], columns: tuple[str, ...]) -> Any:
    """``columns`` of the aggregate row of ``keys``, locked for this transaction; created first when missing.

    The row almost always exists, so it is looked for first (one statement); only a missing
    one is inserted (ON CONFLICT DO NOTHING, so racing first writers both end up locking the
    one row) and read again. (SQLite has no FOR UPDATE: its write transactions are
    ``BEGIN IMMEDIATE``, so they do not interleave at all.)
    """
    names = tuple(keys)
    query = _locking_select(table, names, columns)
    row = query.one_or_none(session, keys)
    if row is None:
        upsert(session, table, names, ()).rows(session, keys)
        row = query.one(session, keys)
    return row


def write_row(session: Session, table: Table, keys: Mapping[str, Any], values: Mapping[str, Any]) -> None:
    """Set columns of the (locked) row of ``keys``."""
    params = {**values, **{_KEY_PARAM + k: v for k, v in keys.items()}}
    _keyed_update(table, tuple(keys)).rows(session, params)
