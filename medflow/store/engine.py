"""Database connections: one place for the differences between SQLite and PostgreSQL.

SQLite (the embedded default) runs in WAL mode so readers never block the writer. Writes
go through a separate one-connection engine that opens every transaction with
BEGIN IMMEDIATE: in-process writers queue on the pool instead of failing, and other
processes wait on busy_timeout instead of raising "database is locked".
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import QueuePool

from medflow.errors import MedflowError

SQLITE_BUSY_TIMEOUT_MS = 60_000
# Every engine is created with hide_parameters=True: a failed statement's error text (which reaches
# the server log) then shows its SQL but never the values, which can be anything a client sent.


def normalize_url(url: str) -> str:
    """Accept the URLs MLflow users know; pick the psycopg 3 driver for PostgreSQL."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("postgresql+psycopg2://"):
        url = "postgresql+psycopg://" + url[len("postgresql+psycopg2://"):]
    if not (url.startswith("sqlite:///") or url.startswith("postgresql+psycopg://")):
        raise MedflowError.invalid(
            f"Unsupported backend store URI scheme in {make_url(url).render_as_string(hide_password=True)!r}: "
            "use sqlite:////absolute/path.db or postgresql://user@host:5432/dbname")
    return url


def _sqlite_engine(url: str, *, immediate: bool, pool_size: int) -> Engine:
    engine = create_engine(url, poolclass=QueuePool, pool_size=pool_size, max_overflow=0, hide_parameters=True,
                           pool_use_lifo=True,  # the most recently used connection has the warmest page cache
                           pool_timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
                           connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (pysqlite's is unreliable)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA case_sensitive_like=ON")  # LIKE as on PostgreSQL; ILIKE lowers
        cur.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.connection.driver_connection.execute(begin)  # straight to sqlite3: once per transaction

    return engine


class Database:
    """The engines of one backend store, and transactions on them."""

    def __init__(self, url: str, pool_size: int = 8):
        self.url = normalize_url(url)
        self.dialect = "sqlite" if self.url.startswith("sqlite") else "postgresql"
        if self.dialect == "sqlite":
            path = make_url(self.url).database
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._writer = _sqlite_engine(self.url, immediate=True, pool_size=1)
            self._reader = _sqlite_engine(self.url, immediate=False, pool_size=pool_size)
        else:
            # No pre-ping: it costs a round trip per transaction; a connection the server dropped
            # fails one request (which the mlflow client retries) and is then replaced.
            # LIFO: the connection used last is used next, so after a burst of concurrent clients a
            # sequential client keeps reusing one warm connection (and its PostgreSQL backend)
            # instead of cycling through all of them.
            self._writer = create_engine(self.url, pool_size=pool_size, max_overflow=pool_size,
                                         pool_recycle=1800, hide_parameters=True, pool_use_lifo=True)
            # Reads run in autocommit: no BEGIN/COMMIT round trips for a request that changes nothing.
            # Their own pool, whose connections stay in autocommit: switching a pooled connection
            # in and out of it on every checkout costs more than the query that follows.
            self._reader = create_engine(self.url, pool_size=pool_size, max_overflow=pool_size,
                                         pool_recycle=1800, hide_parameters=True, isolation_level="AUTOCOMMIT",
                                         pool_use_lifo=True)
        # Called with the connection just before every write transaction commits: the audit
        # trail appends the request's event here, so a change and its event commit together.
        self.before_commit: list[Callable[[Connection], None]] = []

    @property
    def engine(self) -> Engine:
        return self._writer

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction: everything inside commits together or not at all."""
        with self._writer.begin() as conn:
            yield conn
            for hook in self.before_commit:
                hook(conn)

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self._reader.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def scan(self) -> Iterator[Connection]:
        """A read-only transaction for server-side cursors (streaming large results)."""
        engine = self._writer if self.dialect == "postgresql" else self._reader
        with engine.connect() as conn:
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        self._writer.dispose()
        self._reader.dispose()


def is_unique_violation(exc: IntegrityError) -> bool:
    text = str(exc.orig).lower()
    return "unique" in text or "duplicate key" in text or "primary key" in text


def upsert(conn: Connection, table, values: list[dict], key_cols: list[str], update_cols: list[str]) -> None:
    """INSERT ... ON CONFLICT DO UPDATE on both dialects (tags are overwritten in place)."""
    if not values:
        return
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = dialect_insert(table)
    stmt = stmt.on_conflict_do_update(index_elements=key_cols,
                                      set_={c: getattr(stmt.excluded, c) for c in update_cols})
    conn.execute(stmt, values)
