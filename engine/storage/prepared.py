"""Hot Core statements run straight on the driver's cursor, compiled once per dialect.

Every task action runs the same few Core statements (the claim's conditional update, the
audit lines, the outbox rows, the notifications). Through SQLAlchemy an execution of a
prebuilt one-row statement cost 37-86 µs here, against 4 µs for sqlite3 alone (cache key,
compiled-cache lookup, execution context, result set-up): on the engine path SQLAlchemy's
own code weighed several times what SQLite took to run the statements.

``Prepared`` keeps what SQLAlchemy works out per execution: the SQL text, the order of its
parameters and their bind processors (SQLAlchemy's own type processors, taken once from
the compiled statement: a ``UtcDateTime`` is stored exactly as through SQLAlchemy), the
Python-side defaults of an INSERT's missing columns, and the result processors of what it
returns. It executes on the session's own connection, so it is inside the session's
transaction, and its driver errors are raised as SQLAlchemy's (``IntegrityError``, ...), as
callers catch them. Listeners of ``before_cursor_execute``/``after_cursor_execute`` (the
benchmarks count statements with them) still hear every statement.

It takes plain Core statements on tables (``select``, ``insert``, ``update``, ``delete``),
with ``expanding`` parameters (``IN``) when the list is not empty; an ORM statement, an
empty expanding list, or a paramstyle other than ``qmark`` (sqlite3) and ``pyformat``
(psycopg) go through SQLAlchemy as before.

May import: nothing of the engine (a storage helper).
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import visitors
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.expression import ClauseElement, Executable

_POSTCOMPILE = "__[POSTCOMPILE_{}]"
Processor = Callable[[Any], Any] | None
R = TypeVar("R")


@dataclass
class _Plan:
    """One statement compiled for one dialect and one shape of parameters."""

    dialect: Dialect
    sql: str
    positional: bool
    # Bind names in the order the driver takes them (qmark), or the names it takes (pyformat).
    names: tuple[str, ...]
    # Each name with its bind processor (None: the value goes as it is).
    binders: tuple[tuple[str, Processor], ...]
    # Values of the statement's own binds (``values(state=...)``, ``== 'ready'``), used when not given.
    defaults: dict[str, Any]
    # Names that must be given.
    required: frozenset[str]
    # Python-side defaults of INSERT/UPDATE columns not given: (bind name, how to make the value).
    generated: tuple[tuple[str, Callable[[], Any]], ...]
    # Expanding binds and the number of values each was compiled for.
    expanding: tuple[tuple[str, int], ...]
    returns: bool
    row: Any = None
    result_types: list[Any] = field(default_factory=list)
    # Taken from the first result's description (psycopg's processors depend on its type codes).
    result_processors: list[Processor] | None = None


class Prepared:
    """A Core statement run on the session's driver connection (see the module docstring)."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._plans: dict[tuple[Any, ...], _Plan | None] = {}
        self._lock = threading.Lock()
        columns = getattr(statement, "exported_columns", None)
        self._columns = list(columns) if columns is not None else []
        self._keys = [str(c.key) for c in self._columns]
        self._expanding = frozenset(
            bp.key for bp in visitors.iterate(statement) if isinstance(bp, BindParameter) and bp.expanding
        )
        # An INSERT or UPDATE sets the table's columns that are given by name (as SQLAlchemy does).
        self._sets_columns = isinstance(statement, UpdateBase)

    # -- running ---------------------------------------------------------------------------

    def rows(self, session: Session, params: Mapping[str, Any] | None = None) -> list[Any]:
        """Run once and return the rows (named tuples; empty for a statement that returns nothing)."""
        return self._once(session, params, self._rows, _result_rows)

    def one_or_none(self, session: Session, params: Mapping[str, Any] | None = None) -> Any:
        """The one row returned, or None (more than one is an error)."""
        found = self.rows(session, params)
        if len(found) > 1:
            raise sa_exc.MultipleResultsFound("Multiple rows were found when one or none was required")
        return found[0] if found else None

    def one(self, session: Session, params: Mapping[str, Any] | None = None) -> Any:
        """The one row returned (none or more than one is an error)."""
        found = self.one_or_none(session, params)
        if found is None:
            raise sa_exc.NoResultFound("No row was found when one was required")
        return found

    def scalar(self, session: Session, params: Mapping[str, Any] | None = None) -> Any:
        """The first column of the first row, or None."""
        found = self.rows(session, params)
        return found[0][0] if found else None

    def count(self, session: Session, params: Mapping[str, Any] | None = None) -> int:
        """Run once and return how many rows it changed (an UPDATE or DELETE returning nothing)."""
        return self._once(session, params, _cursor_count, _result_count)

    def _once(
        self,
        session: Session,
        params: Mapping[str, Any] | None,
        from_cursor: Callable[[_Plan, Any], R],
        from_result: Callable[[Any], R],
    ) -> R:
        """Run once on the session's connection; what ``from_cursor`` reads of the driver's cursor
        (or ``from_result`` of SQLAlchemy's result, where SQLAlchemy runs it)."""
        conn = session.connection()
        given = dict(params or {})
        plan = self._plan(conn.dialect, given)
        if plan is None:
            return from_result(conn.execute(cast(Executable, self.statement), given))
        cursor = self._execute(conn, plan, self._bind(plan, given), many=False)
        try:
            return from_cursor(plan, cursor)
        finally:
            cursor.close()

    def many(self, session: Session, params: Sequence[Mapping[str, Any]]) -> None:
        """Run once per parameter set in one driver call (no rows returned).

        The sets name the same keys, as SQLAlchemy's ``executemany`` needs; sets that differ
        go through SQLAlchemy, which says what is missing.
        """
        if not params:
            return
        conn = session.connection()
        first = params[0].keys()
        plan = self._plan(conn.dialect, params[0])
        if plan is None or plan.returns or plan.expanding or any(p.keys() != first for p in params):
            conn.execute(cast(Executable, self.statement), [dict(p) for p in params])
            return
        self._execute(conn, plan, [self._bind(plan, p) for p in params], many=True).close()

    # -- executing -------------------------------------------------------------------------

    @staticmethod
    def _execute(conn: Connection, plan: _Plan, bound: Any, *, many: bool) -> Any:
        cursor = conn.connection.cursor()
        dispatch = conn.dispatch
        if dispatch.before_cursor_execute:
            dispatch.before_cursor_execute(conn, cursor, plan.sql, bound, None, many)
        dbapi = conn.dialect.loaded_dbapi
        try:
            if many:
                cursor.executemany(plan.sql, bound)
            else:
                cursor.execute(plan.sql, bound)
        except dbapi.Error as error:
            raise sa_exc.DBAPIError.instance(
                plan.sql, bound, error, dbapi.Error, dialect=conn.dialect
            ) from error
        if dispatch.after_cursor_execute:
            dispatch.after_cursor_execute(conn, cursor, plan.sql, bound, None, many)
        return cursor

    @staticmethod
    def _bind(plan: _Plan, params: Mapping[str, Any]) -> Any:
        values: Mapping[str, Any] = params
        if plan.generated or plan.expanding:
            merged = {**plan.defaults, **params}
            for name, make in plan.generated:
                if name not in params:
                    merged[name] = make()
            for name, _count in plan.expanding:
                for index, item in enumerate(merged.pop(name), start=1):
                    merged[f"{name}_{index}"] = item
            values = merged
        defaults = plan.defaults
        out = []
        try:
            for name, proc in plan.binders:
                value = values[name] if name in values else defaults[name]
                out.append(value if proc is None or value is None else proc(value))
        except KeyError:
            missing = sorted(plan.required - values.keys())
            if not missing:
                raise
            raise sa_exc.ArgumentError(f"missing parameters {missing} for {plan.sql!r}") from None
        # Positional binders are one per placeholder: a parameter used twice is given twice.
        return tuple(out) if plan.positional else dict(zip(plan.names, out, strict=True))

    @staticmethod
    def _rows(plan: _Plan, cursor: Any) -> list[Any]:
        if not plan.returns:
            return []
        fetched = cursor.fetchall()
        if plan.result_processors is None:
            codes = [d[1] for d in cursor.description or ()]
            plan.result_processors = [
                t.dialect_impl(plan.dialect).result_processor(plan.dialect, code)
                for t, code in zip(plan.result_types, codes, strict=True)
            ]
        processors = plan.result_processors
        make = plan.row._make
        if not any(processors):
            return [make(r) for r in fetched]
        return [
            make(p(v) if p is not None else v for p, v in zip(processors, r, strict=True)) for r in fetched
        ]

    # -- planning --------------------------------------------------------------------------

    def _plan(self, dialect: Dialect, params: Mapping[str, Any]) -> _Plan | None:
        expanding = (
            tuple(sorted((k, len(v)) for k, v in params.items() if k in self._expanding))
            if self._expanding
            else ()
        )
        columns = tuple(sorted(params)) if self._sets_columns else None
        key = (dialect.name, dialect.driver, expanding, columns)
        if key not in self._plans:
            with self._lock:
                self._plans[key] = self._compile(dialect, dict(expanding), columns)
        return self._plans[key]

    def _compile(
        self, dialect: Dialect, expanding: dict[str, int], columns: tuple[str, ...] | None
    ) -> _Plan | None:
        """The plan of one shape, or None where SQLAlchemy must run it (see the module docstring)."""
        if dialect.paramstyle not in ("qmark", "pyformat") or any(n == 0 for n in expanding.values()):
            return None
        if len(set(self._keys)) != len(self._keys) or not all(k.isidentifier() for k in self._keys):
            return None
        # An INSERT or UPDATE compiles to the columns given (``column_keys``).
        compiled: Any = self.statement.compile(
            dialect=dialect, column_keys=list(columns) if columns is not None else None
        )
        if compiled.escaped_bind_names:
            return None
        sql: str = compiled.string
        positional = dialect.paramstyle == "qmark"
        # ``binds`` also holds anonymous binds under their unrendered keys: only rendered names count.
        rendered = set(compiled.bind_names.values())
        binds: dict[str, BindParameter[Any]] = {n: bp for n, bp in compiled.binds.items() if n in rendered}
        for name, bp in binds.items():
            # A list written into the statement (``state.in_(OPEN_WORK_STATES)``) is expanding too.
            if bp.expanding and name not in expanding:
                if bp.required or not bp.effective_value:
                    return None
                expanding[name] = len(bp.effective_value)
        names = list(compiled.positiontup or ()) if positional else [n for n in binds if n not in expanding]
        for name, count in expanding.items():
            token = _POSTCOMPILE.format(name)
            each = [f"{name}_{i}" for i in range(1, count + 1)]
            if positional:
                sql = sql.replace(token, ", ".join("?" for _ in each))
                at = names.index(name)
                names[at : at + 1] = each
            else:
                sql = sql.replace(token, ", ".join(f"%({n})s" for n in each))
                names += each
        if "__[POSTCOMPILE_" in sql:
            return None  # a literal-execute parameter this plan does not render
        processors: dict[str, Processor] = {}
        for name, bp in binds.items():
            proc = bp.type.dialect_impl(dialect).bind_processor(dialect)
            for each_name in (
                [f"{name}_{i}" for i in range(1, expanding[name] + 1)] if name in expanding else [name]
            ):
                processors[each_name] = proc
        generated = []
        prefetched = [(c, c.default) for c in compiled.insert_prefetch]
        prefetched += [(c, c.onupdate) for c in compiled.update_prefetch]
        for column, default in prefetched:
            maker = default_maker(default)
            if column.key not in binds or maker is None:
                return None
            generated.append((str(column.key), maker))
        made = frozenset(name for name, _ in generated)
        return _Plan(
            dialect=dialect,
            sql=sql,
            positional=positional,
            names=tuple(names),
            binders=tuple((name, processors.get(name)) for name in names),
            defaults={n: bp.effective_value for n, bp in binds.items() if not bp.required},
            required=frozenset(n for n, bp in binds.items() if bp.required and n not in made),
            generated=tuple(generated),
            expanding=tuple(sorted(expanding.items())),
            returns=bool(self._columns)
            and (not isinstance(self.statement, UpdateBase) or bool(compiled.effective_returning)),
            row=_row_class(self._keys) if self._columns else None,
            result_types=[c.type for c in self._columns],
        )


def _result_rows(result: Any) -> list[Any]:
    return list(result.all()) if result.returns_rows else []


def _result_count(result: Any) -> int:
    return int(result.rowcount)


def _cursor_count(_plan: _Plan, cursor: Any) -> int:
    return int(cursor.rowcount)


def _row_class(keys: list[str]) -> type:
    """Named tuples that also answer ``_mapping``, as SQLAlchemy's rows do."""
    base = namedtuple("Row", keys)  # type: ignore[misc]
    return type("Row", (base,), {"__slots__": (), "_mapping": property(base._asdict)})


def default_maker(default: Any) -> Callable[[], Any] | None:
    """A column's Python-side default (or ``onupdate``) as a function of nothing; None if it has none.

    SQLAlchemy wraps a callable default to take the execution context; there is none here,
    so a default that reads the context (none of the engine's tables has one) gets None.
    """
    if default is None:
        return None
    if default.is_scalar:
        value = default.arg
        return lambda: value
    if default.is_callable:
        make = default.arg
        return lambda: make(None)
    return None
