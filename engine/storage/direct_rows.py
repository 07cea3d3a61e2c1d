"""The rows of a few hot tables, read and written on prepared statements, held by the ORM's session.

Every action on a case locks and reads the case row and its live task rows, then updates
the case (its workflow state), decides a task row or two and inserts the new ones. Through
the ORM that cost about 0.75 ms of SQLAlchemy's own code to read and 0.9 ms to flush per
action here, for statements the driver runs in a fraction of it: together a fifth of a
durable case (issue 18's profiles). Callers keep working on the mapped objects; only how
they reach and leave the database changes:

- ``attach(session, cls, rows)`` turns rows read with ``Prepared`` into the session's
  persistent objects, as an ORM query with ``populate_existing`` leaves them: an object
  already in the session takes the fresh values, a new one is keyed by its id, clean, and
  columns not read (the case's large state) load on first use, as a deferred column does.
- ``handle(Case, WorkItem)`` installs a ``before_flush`` listener that writes such rows
  itself and leaves the session holding them as the ORM's own flush would: clean, with
  their ids, the version counter moved. A flush that also holds rows of other tables,
  deletions, a value that is an SQL expression, or only some objects (``flush(objects)``)
  is left whole to the ORM, so the order of writes across tables is never this module's.

What the writes keep from the ORM's flush (``tests/engine/test_direct_rows.py`` holds them):
- an UPDATE sets the attributes whose value changed since it was loaded (compared by the
  column's type, as the ORM does), and a row with no net change gets no statement;
- a versioned row (``version_id_col``, as ``Case.state_version``) is updated only at the
  version it was loaded at, and the version moves by the mapper's generator; an update that
  lost that race raises ``StaleDataError``, as the ORM does, and the case action retries;
- an INSERT takes the column's Python-side default for an attribute not set (NULL where
  there is none), the row gets its generated id, and the object is persistent and clean;
- tables in the metadata's dependency order, each table's updates (by primary key) before
  its inserts (in the order they were added).

The session's bookkeeping is SQLAlchemy's own: ``make_transient_to_detached`` and
``Session.add`` make a row persistent, and ``InstanceState._commit_all`` (what the ORM's
loading and flush end with) marks what was read or written as the row's committed values.

May import: ``engine.storage.prepared`` (a storage helper).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import Column, Table, bindparam, insert, update
from sqlalchemy import event as sa_event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.base import NO_VALUE
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql.elements import ClauseElement

from engine.storage.prepared import Prepared, default_maker

T = TypeVar("T")


@dataclass(frozen=True)
class _Table:
    """How one mapped class's rows are written: its statements, columns and version counter."""

    name: str
    # Each attribute (its key is its column's) with its Python-side default.
    defaults: dict[str, Callable[[], Any] | None]
    # Each attribute's column type, which says whether a value changed.
    types: dict[str, Any]
    pk: str
    # The version counter: its attribute and the mapper's generator of the next value.
    version: tuple[str, Callable[[Any], Any]] | None
    update: Prepared
    insert: Prepared
    mapper: Mapper[Any]

    def write_update(self, session: Session, obj: Any) -> None:
        """Write what changed on a loaded row (nothing if nothing did) and mark it written."""
        state = instance_state(obj)
        values = state.dict
        types = self.types
        changed = {
            key: values[key]
            for key, before in state.committed_state.items()
            if before is NO_VALUE or not types[key].compare_values(values[key], before)
        }
        if changed:
            params = {**changed, "where_pk": values[self.pk]}
            if self.version is not None:
                counter, next_value = self.version
                params[counter] = next_value(values[counter])
                params["where_version"] = values[counter]
            matched = self.update.count(session, params)
            if matched != 1:
                raise StaleDataError(
                    f"UPDATE statement on table '{self.name}' expected to update 1 row(s); "
                    f"{matched} were matched."
                )
            if self.version is not None:
                values[counter] = params[counter]
        # As the ORM's flush ends: what was written is what the row holds now.
        state._commit_all(values, session.identity_map)

    def write_insert(self, session: Session, obj: Any) -> None:
        """Insert a pending row with its defaults and make it persistent under its new id."""
        state = instance_state(obj)
        values = state.dict
        for key, make in self.defaults.items():
            if key not in values and key != self.pk:
                values[key] = make() if make is not None else None
        if self.version is not None:
            counter, next_value = self.version
            values[counter] = next_value(None)
        params = {key: values[key] for key in self.defaults if key in values}
        if params.get(self.pk) is None:
            params.pop(self.pk, None)
        new_id = self.insert.scalar(session, params)
        session.expunge(obj)
        values[self.pk] = new_id
        make_transient_to_detached(obj)  # clean, keyed by its new id ...
        session.add(obj)  # ... and persistent in this session


_HANDLED: dict[type, _Table] = {}
# Handled classes in the order their tables are written (a table before those referring to it).
_ORDER: list[type] = []


def handle(*classes: type) -> None:
    """Write these mapped classes' rows on prepared statements in every session's flush."""
    for cls in classes:
        if cls not in _HANDLED:
            _HANDLED[cls] = _describe(cls)
    _ORDER[:] = sorted(_HANDLED, key=_table_order)
    if not sa_event.contains(Session, "before_flush", _write):
        sa_event.listen(Session, "before_flush", _write)


def attach(session: Session, cls: type[T], rows: Iterable[Any]) -> list[T]:
    """Rows of ``cls``'s table (read with ``Prepared``; named tuples of its columns) as the session's objects.

    As an ORM query with ``populate_existing``: an object of the same id already in the
    session takes the values read (the caller flushes first, as the ORM's autoflush would,
    so nothing unwritten is lost), and its columns not read are expired, so a case's state
    loaded before the lock is never paired with the version read under it; any other object
    becomes persistent and clean, its columns not read left to load on first use.
    """
    table = _HANDLED[cls]
    identity = session.identity_map
    found: list[T] = []
    for row in rows:
        values = row._asdict()
        key = table.mapper.identity_key_from_primary_key((values[table.pk],))
        obj = identity.get(key)
        if obj is not None:
            state = instance_state(obj)
            unread = [key for key in table.defaults if key not in values and key in state.dict]
            state.dict.update(values)
            state._commit_all(state.dict, identity)
            if unread:  # loaded before, perhaps before a lock: read again on first use, as fresh
                session.expire(obj, unread)
        else:
            obj = table.mapper.class_manager.new_instance()
            instance_state(obj).dict.update(values)
            make_transient_to_detached(obj)  # keyed by its id; columns not read load when used
            session.add(obj)
        found.append(obj)
    return found


def _table(cls: type) -> Table:
    """The class's table, typed as one."""
    return cast(Table, sa_inspect(cls).local_table)


def _table_order(cls: type) -> int:
    """Where the class's table comes in its metadata's dependency order."""
    table = _table(cls)
    return table.metadata.sorted_tables.index(table)


def _describe(cls: type) -> _Table:
    """The writing plan of a single-table class without relationships (else ``ValueError``)."""
    mapper: Mapper[Any] = sa_inspect(cls)
    table = _table(cls)
    if len(mapper.tables) != 1 or mapper.relationships or len(mapper.primary_key) != 1:
        raise ValueError(f"{cls.__name__}: only single-table classes without relationships")
    defaults: dict[str, Callable[[], Any] | None] = {}
    types: dict[str, Any] = {}
    for prop in mapper.column_attrs:
        (column,) = cast(list[Column[Any]], prop.columns)
        if prop.key != column.key or column.onupdate is not None or column.server_onupdate is not None:
            raise ValueError(f"{cls.__name__}.{prop.key}: attribute and column differ, or it has onupdate")
        if column.server_default is not None and column.default is None:
            raise ValueError(f"{cls.__name__}.{prop.key}: a server-side default only")
        defaults[prop.key] = default_maker(column.default)
        types[prop.key] = column.type
    pk = mapper.primary_key[0]
    version_column = mapper.version_id_col
    next_version = mapper.version_id_generator
    if version_column is not None and not callable(next_version):
        raise ValueError(f"{cls.__name__}: the application sets its version itself")
    changing = update(table).where(pk == bindparam("where_pk"))
    if version_column is not None:
        changing = changing.where(version_column == bindparam("where_version"))
    return _Table(
        name=table.name,
        defaults=defaults,
        types=types,
        pk=str(pk.key),
        version=(str(version_column.key), next_version)
        if version_column is not None and callable(next_version)
        else None,
        update=Prepared(changing),
        insert=Prepared(insert(table).returning(pk)),
        mapper=mapper,
    )


def _write(session: Session, _context: Any, objects: Sequence[Any] | None) -> None:
    """``before_flush``: write the handled rows when they are all the flush holds."""
    if objects is not None or session.deleted:
        return
    dirty = list(session.dirty)
    new = list(session.new)
    if (not dirty and not new) or not all(type(o) in _HANDLED for o in (*dirty, *new)):
        return
    for obj in dirty:
        table = _HANDLED[type(obj)]
        state = instance_state(obj)
        if table.version is not None and table.version[0] not in state.dict:
            return  # a version counter not loaded: the ORM reads it first
        if any(
            key not in state.dict or isinstance(state.dict[key], ClauseElement)
            for key in state.committed_state
        ):
            return  # an attribute deleted, or set to an SQL expression
    if any(isinstance(v, ClauseElement) for o in new for v in instance_state(o).dict.values()):
        return
    for cls in _ORDER:
        table = _HANDLED[cls]
        for obj in sorted(
            (o for o in dirty if type(o) is cls), key=lambda o: instance_state(o).dict[table.pk]
        ):
            table.write_update(session, obj)
        for obj in (o for o in new if type(o) is cls):
            table.write_insert(session, obj)
