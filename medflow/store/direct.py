"""Statements that every request runs, executed on the database driver directly.

SQLAlchemy's execution path (execution context, result metadata, events) costs ~45 us of CPU
per statement here, as much as psycopg's own work for a one-row query: for the statements every
request runs (its credential check, the audit append of a write) and the registry's hot path,
that is a tenth of the request. A DirectStatement is the same Core construct, compiled once per
dialect and executed on the DBAPI cursor of the caller's connection, inside its transaction.
What SQLAlchemy would still do for them is done here too: its bind and result type conversions,
and driver errors re-raised as SQLAlchemy's (an IntegrityError stays one; a connection the
database dropped is invalidated, so the pool replaces it).
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any, Callable, NamedTuple

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement


class _Compiled(NamedTuple):
    sql: str
    positions: tuple[str, ...] | None            # parameter order for positional drivers (sqlite3)
    defaults: dict[str, Any]                     # literals the statement binds itself
    bind_processors: dict[str, Callable]
    result_processors: tuple[Callable | None, ...] | None
    row_type: type | None


class DirectStatement:
    def __init__(self, statement: ClauseElement):
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def first(self, conn: Connection, params: dict[str, Any]):
        """The first row (a named tuple: row.column), or None; for statements without RETURNING, None."""
        compiled = self._compiled.get(conn.dialect.name) or self._compile(conn)
        values = {**compiled.defaults, **params}
        for name, process in compiled.bind_processors.items():
            values[name] = process(values[name])
        args = values if compiled.positions is None else tuple(values[name] for name in compiled.positions)
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.execute(compiled.sql, args)
            row = cursor.fetchone() if compiled.row_type is not None else None
        except conn.dialect.loaded_dbapi.Error as exc:
            raise self._wrapped(conn, exc, compiled.sql, cursor) from exc
        finally:
            cursor.close()
        if row is None:
            return None
        if compiled.result_processors is not None:
            row = [value if process is None else process(value)
                   for value, process in zip(row, compiled.result_processors)]
        return compiled.row_type._make(row)

    def _compile(self, conn: Connection) -> _Compiled:
        dialect = conn.dialect
        compiled = self.statement.compile(dialect=dialect)
        defaults, bind_processors = {}, {}
        for bind, name in compiled.bind_names.items():  # by the name each has in the SQL text
            if not bind.required:
                defaults[name] = bind.effective_value
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                bind_processors[name] = process
        columns = list(self.statement.exported_columns) if getattr(self.statement, "exported_columns", None) else []
        row_type = namedtuple("Row", [c.key for c in columns], rename=True) if columns else None
        result_processors = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
        self._compiled[dialect.name] = entry = _Compiled(
            sql=compiled.string, positions=tuple(compiled.positiontup) if compiled.positional else None,
            defaults=defaults, bind_processors=bind_processors,
            result_processors=result_processors if any(result_processors) else None, row_type=row_type)
        return entry

    @staticmethod
    def _wrapped(conn: Connection, exc: Exception, sql: str, cursor) -> DBAPIError:
        invalidated = conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection, cursor)
        if invalidated:
            conn.invalidate(exc)
        return DBAPIError.instance(sql, None, exc, conn.dialect.loaded_dbapi.Error, hide_parameters=True,
                                   connection_invalidated=invalidated, dialect=conn.dialect)
