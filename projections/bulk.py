"""Sending a replay's statements to the database: compiled once, executed many rows at a time.

A replay folds a million events into a few dozen distinct statements, each executed with
thousands of parameter sets. SQLAlchemy rebuilds every parameter set through
``construct_params`` and its execution context (a third of a replay's time, more than the
folds themselves), although nothing about the statement changes between rows. The
:class:`BulkWriter` compiles each (statement, parameter names) once, keeps the order and the
bind processors of its parameters, and hands the DBAPI cursor ready tuples. Anything it does
not recognise (expanding ``IN`` lists, callable defaults, ``RETURNING``) goes through
SQLAlchemy as before, so the rows written are the same either way.

A :class:`Renamer` points statements written for the live tables at other ones (the next
generation being built under shadow names, ``projections.generations``), by rewriting the
table names in the SQL text: the fold handlers keep their module-level statements, and any
table a new version of ``projections.tables`` adds is renamed too.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Executable, event
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert, UpdateBase

from .tables import UTCDateTime

#: Value sources of one parameter: from the row (by key) or a constant of the statement.
_ROW, _CONST = 0, 1


class Renamer:
    """Rewrites table names in SQL text: ``{"mp_models": "mp_models__1a2b3c4d", ...}``.

    Names are matched as whole identifiers (``mp_models`` is not the start of
    ``mp_models_id`` or ``mp_model_names``); values are bound, never inlined, so no literal
    can contain a table name. Each distinct SQL text is rewritten once.
    """

    def __init__(self, names: Mapping[str, str]) -> None:
        self.names = dict(names)
        alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
        self._pattern = re.compile(rf"(?<![\w$])({alternatives})(?![\w$])")
        self._done: dict[str, str] = {}

    def __call__(self, sql: str) -> str:
        done = self._done.get(sql)
        if done is None:
            done = self._done[sql] = self._pattern.sub(lambda m: self.names[m[1]], sql)
        return done

    @contextmanager
    def applied_to(self, conn: Connection) -> Iterator[Connection]:
        """Every statement ``conn`` sends meanwhile goes to the renamed tables."""

        def rewrite(
            _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
        ) -> tuple[str, Any]:
            return self(statement), parameters

        event.listen(conn, "before_cursor_execute", rewrite, retval=True)
        try:
            yield conn
        finally:
            event.remove(conn, "before_cursor_execute", rewrite)


class _Plan:
    """One compiled statement: its SQL and a function making a DBAPI parameter set of a row.

    The function is generated once per plan (``lambda row: (p0(row['id']), row['name'],
    ...)``), so a row costs one call and no per-value branching: with thousands of rows per
    execution, building parameters in a generic loop cost as much as SQLite's inserts.
    """

    __slots__ = ("convert", "sql")

    def __init__(self, sql: str, sources: list[tuple[str, int, Any, Any]], named: bool) -> None:
        self.sql = sql
        namespace: dict[str, Any] = {}
        values: list[str] = []
        for i, (name, kind, key, processor) in enumerate(sources):
            if kind == _CONST:
                namespace[f"c{i}"] = key
                value = f"c{i}"
            elif processor is None:
                value = f"row[{key!r}]"
            else:
                namespace[f"p{i}"] = processor
                value = f"p{i}(row[{key!r}])"
            values.append(f"{name!r}: {value}" if named else value)
        if named:
            body = "{" + ", ".join(values) + "}"
        else:
            body = "(" + "".join(f"{value}, " for value in values) + ")"
        # the source holds only repr()s of names and keys, and names of the namespace
        self.convert: Callable[[Mapping[str, Any]], Any] = eval(f"lambda row: {body}", namespace)

    def parameters(self, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        return list(map(self.convert, rows))


class BulkWriter:
    """Executes a fold's statements on one connection, as ``Batch.flush`` asks a session to.

    ``renamer`` (optional) points them at other tables than the ones they name; ``prepare``
    (optional) is called with the SQL of each statement (renamed) before it runs. The writer
    must be used inside a transaction the connection has begun (it writes through the same
    DBAPI connection, under SQLAlchemy's transaction).
    """

    def __init__(
        self,
        conn: Connection,
        renamer: Renamer | None = None,
        prepare: Callable[[str], None] | None = None,
    ) -> None:
        self.conn = conn
        self.renamer = renamer
        self.prepare = prepare
        self.dialect = conn.dialect
        self._plans: dict[tuple[Executable, tuple[str, ...]], _Plan | None] = {}
        self._sql: dict[Executable, str] = {}
        #: psycopg 3 streams inserts with COPY (other drivers: executemany)
        self._copies = conn.dialect.driver == "psycopg"

    def execute(self, statement: Executable, params: Any = None) -> Any:
        rows: Sequence[Mapping[str, Any]]
        rows = [params] if isinstance(params, Mapping) else params or []
        plan = self._plan(statement, rows[0]) if rows else None
        if plan is not None:
            try:
                parameters = plan.parameters(rows)
            except KeyError:  # a row without a key the first one had: SQLAlchemy says why
                plan = None
        if plan is None:
            if self.prepare is not None:
                self.prepare(self._sql_of(statement))
            return self._through_sqlalchemy(statement, params)
        if self.prepare is not None:
            self.prepare(plan.sql)
        if not self.conn.in_transaction():
            raise RuntimeError("BulkWriter needs a transaction begun on its connection")
        cursor = self.conn.connection.cursor()
        try:
            if isinstance(plan, _CopyPlan):
                with cursor.copy(plan.copy) as copy:
                    for row in parameters:
                        copy.write_row(row)
            elif len(parameters) == 1:
                cursor.execute(plan.sql, parameters[0])
            else:
                cursor.executemany(plan.sql, parameters)
        except Exception as error:
            self.conn._handle_dbapi_exception(  # the same typed errors as conn.execute
                error, plan.sql, parameters, cursor, None
            )
        finally:
            cursor.close()
        return None

    def _sql_of(self, statement: Executable) -> str:
        """The (renamed) SQL of a statement SQLAlchemy runs, for ``prepare``."""
        sql = self._sql.get(statement)
        if sql is None:
            sql = str(statement.compile(dialect=self.dialect))  # type: ignore[attr-defined]
            if self.renamer is not None:
                sql = self.renamer(sql)
            self._sql[statement] = sql
        return sql

    def _through_sqlalchemy(self, statement: Executable, params: Any) -> Any:
        if self.renamer is None:
            return self.conn.execute(statement, params)
        with self.renamer.applied_to(self.conn):
            return self.conn.execute(statement, params)

    def _plan(self, statement: Executable, first: Mapping[str, Any]) -> _Plan | None:
        key = (statement, tuple(first))
        try:
            return self._plans[key]
        except KeyError:
            pass
        try:
            plan = self._compile(statement, sorted(first))
        except (AttributeError, TypeError, ValueError):  # SQLAlchemy internals moved: slow path
            plan = None
        self._plans[key] = plan
        return plan

    def _compile(self, statement: Executable, keys: list[str]) -> _Plan | None:
        if not isinstance(statement, UpdateBase) or statement._returning:
            return None
        compiled = statement.compile(dialect=self.dialect, column_keys=keys, for_executemany=True)
        assert isinstance(compiled, SQLCompiler)
        if (
            compiled.literal_execute_params
            or compiled.post_compile_params
            or compiled.update_prefetch
            or getattr(compiled, "_insertmanyvalues", None) is not None
        ):
            return None
        defaults: dict[str, Any] = {}
        for column in compiled.insert_prefetch:
            default = column.default
            if default is None or not default.is_scalar:
                return None
            defaults[column.key] = default.arg  # type: ignore[attr-defined]
        processors: dict[str, Callable[[Any], Any]] = compiled._bind_processors  # type: ignore[assignment]
        by_name = {name: bind for bind, name in compiled.bind_names.items()}
        order = list(compiled.positiontup or ()) if compiled.positional else list(by_name)
        escaped = compiled.escaped_bind_names
        present = set(keys)
        sources: list[tuple[str, int, Any, Any]] = []
        for name in order:
            bind = by_name[name]
            processor = processors.get(name)
            if processor is not None and isinstance(bind.type, UTCDateTime):
                # one event's time goes into several rows; the conversion depends only on
                # the instant (equal datetimes give equal text), so it is remembered
                processor = functools.lru_cache(maxsize=4096)(processor)
            dbapi_name = escaped.get(name, name)
            if bind.key in present:
                sources.append((dbapi_name, _ROW, bind.key, processor))
            elif name in present:
                sources.append((dbapi_name, _ROW, name, processor))
            elif name in defaults and isinstance(statement, Insert):
                value = defaults[name]
                sources.append((dbapi_name, _CONST, processor(value) if processor else value, None))
            elif bind.required or bind.callable is not None:
                return None
            else:
                value = bind.value
                sources.append((dbapi_name, _CONST, processor(value) if processor else value, None))
        sql = compiled.string
        if self.renamer is not None:
            sql = self.renamer(sql)
        if not compiled.positional and isinstance(statement, Insert) and self._copies:
            copy = _copy_plan(sql, sources)
            if copy is not None:
                return copy
        return _Plan(sql, sources, named=not compiled.positional)


_ELEMENT = r"%\(([^)]+)\)s(?:::[A-Za-z ]+(?:\(\d+(?:, ?\d+)?\))?)?"
_VALUES_GROUP = re.compile(rf"\({_ELEMENT}(?:, {_ELEMENT})*\)")
_NAMED_PARAMETER = re.compile(_ELEMENT)
_INSERT_HEAD = re.compile(r"INSERT INTO (\S+) \(([^()]*)\) VALUES ")


def _copy_plan(sql: str, sources: list[tuple[str, int, Any, Any]]) -> _CopyPlan | None:
    """A plain ``INSERT INTO t (a, ...) VALUES (%(a)s, ...)`` as a ``COPY t (a, ...)``, or None.

    psycopg sends an ``executemany`` as one statement per row (pipelined, but each parsed,
    planned and executed on its own), and parses a multi-row ``VALUES`` statement anew for
    every execution; ``COPY ... FROM STDIN`` streams the rows, several times faster. Only a
    statement whose VALUES are exactly one parameter per column (a cast at most) qualifies:
    a ``SELECT``, an ``ON CONFLICT``, a SQL expression keep the row-by-row plan.
    """
    head = _INSERT_HEAD.match(sql)
    if head is None:
        return None
    group = sql[head.end() :]
    if _VALUES_GROUP.fullmatch(group) is None or "%%" in group:
        return None
    names = _NAMED_PARAMETER.findall(group)
    by_name = {source[0]: source for source in sources}
    columns = [c.strip() for c in head[2].split(",")]
    if sorted(names) != sorted(by_name) or len(columns) != len(names):
        return None
    copy = f"COPY {head[1]} ({', '.join(columns)}) FROM STDIN"
    return _CopyPlan(sql, copy, [by_name[n] for n in names])


class _CopyPlan(_Plan):
    """A plain INSERT whose rows are streamed with ``COPY ... FROM STDIN`` (PostgreSQL)."""

    __slots__ = ("copy",)

    def __init__(self, sql: str, copy: str, sources: list[tuple[str, int, Any, Any]]) -> None:
        super().__init__(sql, sources, named=True)
        #: the same rows, as positional tuples in the COPY's column order
        self.copy = copy
        self.convert = _Plan(copy, sources, named=False).convert
