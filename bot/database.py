"""Open the database named by a URL: SQLite (WAL, busy timeout) or pooled PostgreSQL."""

from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager

import click
from peewee import Database, InterfaceError, OperationalError, SqliteDatabase
from playhouse.db_url import parse as parse_url
from playhouse.migrate import SchemaMigrator, migrate
from playhouse.pool import PooledPostgresqlDatabase

from models import MODELS, OBSOLETE_INDEXES, db

# Rows per multi-row INSERT: a few columns each stays under SQLite's oldest 999-variable limit and far under the
# 65,535 parameters psycopg 3 may bind on the server in one statement (a 10,000-row insert in one piece fails there).
ROWS_PER_INSERT = 150

SQLITE_PRAGMAS = {
    "journal_mode": "wal",  # readers never block the writer
    "synchronous": "normal",  # safe with WAL, much faster than full
    "foreign_keys": 1,
    "cache_size": -16000,
    "temp_store": "memory",
}


def connect(url: str, statement_timeout_ms: int = 3000, lock_timeout_ms: int = 2000) -> Database:
    """Return a peewee database for *url* (not yet connected).

    PostgreSQL sessions start with statement and lock timeouts (libpq `options`, no extra round
    trip), so a held lock makes a message fail fast with the busy reply instead of hanging past
    WeChat's 5 s; connecting gives up after 2 s (libpq's smallest) for a host that does not answer.
    """
    if url.startswith("sqlite:"):
        # One connection per thread, kept open: reconnecting per request costs two thirds of
        # the write throughput. The busy timeout stays under WeChat's 5 s reply deadline.
        path = url.split("sqlite:///", 1)[1] if "sqlite:///" in url else ":memory:"
        return SqliteDatabase(path, timeout=4, pragmas=SQLITE_PRAGMAS)
    scheme = url.split("://", 1)[0]
    if scheme in POSTGRES_DRIVERS:
        params = {"max_connections": 8, "stale_timeout": 300, "timeout": 10, **parse_url(url)}
        options = f"-c statement_timeout={statement_timeout_ms} -c lock_timeout={lock_timeout_ms}"
        if POSTGRES_DRIVERS[scheme] == "psycopg":
            # psycopg 3: statements this connection has run PREPARE_THRESHOLD times before are prepared on
            # the server (parsed and planned once per connection, then only executed), parameters bound
            # there too. bot/prepared.py keeps the hot statements' text fixed, so each is prepared once.
            params = {"prefer_psycopg3": True, "prepare_threshold": PREPARE_THRESHOLD, **params}
        return Pool(options=options, connect_timeout=2, **params)
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///file.db or postgresql://...")


# postgresql:// (and postgres://) use psycopg 3; postgresql+psycopg2:// keeps the older driver (for comparing
# the two in bench/pgprofile.py; psycopg2 cannot prepare statements on the server).
POSTGRES_DRIVERS = {"postgres": "psycopg", "postgresql": "psycopg", "postgresql+psycopg2": "psycopg2",
                    "postgres+psycopg2": "psycopg2"}
PREPARE_THRESHOLD = 1  # prepared from a statement's second run on a connection: rare statements stay unprepared


class Pool(PooledPostgresqlDatabase):
    """peewee's pool without its check-out ping (`SELECT 1`, a round trip per request).

    A connection the server dropped while it sat in the pool is found by the first statement of the
    next transaction instead: transaction() and reading() then close the pool's idle connections (dropped
    together, as a restart or a network cut drops them) and begin once more on a fresh connection (nothing
    was done yet), so a message after a restart or a network cut still gets its answer."""

    def _is_closed(self, conn):
        if conn.closed:
            return True
        if self._adapter.txn_status(conn) == self._adapter.txn_idle:
            return False  # checked in clean (the pool rolls back anything left open when it takes one back)
        return super()._is_closed(conn)


@contextmanager
def _begun(atomic):
    """Enter *atomic*; if BEGIN finds the pooled connection dead, drop it and begin on a fresh one."""
    try:
        atomic.__enter__()
    except (OperationalError, InterfaceError):
        conn = None if db.is_closed() else db.connection()
        if db.transaction_depth() or is_sqlite() or conn is None or not conn.closed:
            raise
        db.close()  # the pool discards a closed connection
        # The others idle beside it are most likely dead too (a restart, a network cut drops them all): closed
        # now, so neither this message nor the next ones meet one; a live one costs a reconnect at most.
        getattr(db.obj, "close_idle", lambda: None)()
        atomic.__enter__()
    try:
        yield atomic
    except BaseException as error:
        if not atomic.__exit__(type(error), error, error.__traceback__):
            raise
    else:
        atomic.__exit__(None, None, None)


def is_sqlite(database=db) -> bool:
    """Return whether the bound database is SQLite."""
    return isinstance(database.obj if hasattr(database, "obj") else database, SqliteDatabase)


def transaction():
    """Open a write transaction; on SQLite take the write lock up front (no deferred upgrade)."""
    if is_sqlite():
        return _queued(db.atomic("IMMEDIATE"))
    return _begun(db.atomic())


class _Undo(Exception):
    """Ends an undoable() block's transaction with a ROLLBACK (peewee rolls back a block an exception leaves)."""


@contextmanager
def undoable():
    """A write transaction whose block may decide to keep nothing: it is given undo(), and when the block ends
    after calling it the transaction rolls back instead of committing (the same one ROLLBACK an exception
    would send); the caller's code goes on normally after the block."""
    undone = []
    try:
        with transaction():
            yield lambda: undone.append(True)
            if undone:
                raise _Undo
    except _Undo:
        pass


def serialize(key: str) -> None:
    """Queue this transaction behind any other holding *key* until it ends (check-then-insert made atomic).

    SQLite's write transactions are already one at a time (BEGIN IMMEDIATE and the writer flock); on
    PostgreSQL a transaction-scoped advisory lock does it, so two workers counting the same user's
    guesses or the same phone's SMS cannot both see "4 of 5" and both go ahead.
    """
    if not is_sqlite():
        db.execute_sql("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))


@contextmanager
def reading():
    """A read-only transaction: one consistent snapshot, no writer lock (SQLite's flock and IMMEDIATE
    are for writers only), and any write inside it fails instead of quietly taking the lock."""
    sqlite = is_sqlite()
    with (db.atomic() if sqlite else _begun(db.atomic())) as txn:
        db.execute_sql("PRAGMA query_only = 1" if sqlite else "SET TRANSACTION READ ONLY")
        try:
            yield txn
        finally:
            if sqlite:
                db.execute_sql("PRAGMA query_only = 0")


_writer = threading.local()


@contextmanager
def _queued(atomic):
    """Wait for SQLite's write lock in a queue (flock) instead of SQLite's busy handler.

    SQLite's busy handler polls, sleeping 1, 2, 5 ... 100 ms between tries, so with 4 workers a
    waiting writer sleeps long after the lock is free: measured 280 check-ins/s with p50 48 ms.
    An flock on a file beside the database wakes the next writer the moment the lock is released.
    The busy timeout still covers writers that do not pass through here. One lock per thread and
    process (opened lazily, so never inherited across fork); nested calls lock once.
    """
    fd = _lock_fd()
    depth = getattr(_writer, "depth", 0)
    if fd is None or depth:
        _writer.depth = depth + 1
        try:
            with atomic as txn:
                yield txn
        finally:
            _writer.depth = depth
        return
    if not _flock(fd, WRITER_WAIT):
        raise OperationalError(f"database is locked: another writer held it {WRITER_WAIT:g} s")  # the busy reply
    _writer.depth = 1
    for hook in WRITE_LOCK_HOOKS:
        hook(True)
    try:
        with atomic as txn:
            yield txn
    finally:
        _writer.depth = 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        for hook in WRITE_LOCK_HOOKS:
            hook(False)


WRITER_WAIT = 4.0  # seconds a writer waits for the lock: SQLite's busy timeout, under WeChat's 5 s
WRITE_LOCK_HOOKS: list = []  # f(held: bool) on taking and releasing the writer lock (tests measure who holds it)


def _flock(fd: int, timeout: float) -> bool:
    """Take the writer flock, waiting at most *timeout* seconds (flock itself cannot time out).

    Uncontended: one non-blocking call. Contended: a helper thread blocks in flock (so the kernel wakes us
    the moment the lock is released, no polling) while we wait on an Event with the timeout. On a timeout
    the helper's file is handed over to it: it closes the file (releasing the lock) whenever it gets it, and
    this thread opens a new one, so a late grant can never leave the lock held nor release someone else's.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        pass
    granted, guard, abandoned = threading.Event(), threading.Lock(), []

    def wait() -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with guard:
            if abandoned:
                os.close(fd)  # closing releases the lock; this thread already uses another file
                return
            granted.set()

    threading.Thread(target=wait, name="ketang-writer-lock", daemon=True).start()
    if granted.wait(timeout):
        return True
    with guard:
        if granted.is_set():
            return True
        abandoned.append(True)
    _writer.key = None  # the next transaction of this thread opens a fresh lock file
    return False


def _lock_fd() -> int | None:
    path = getattr(db.obj, "database", "") or ""
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    key = (os.getpid(), path)
    if getattr(_writer, "key", None) != key:
        try:
            _writer.fd = os.open(path + "-writer.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:  # the database's directory is gone or read-only: the database is unavailable
            raise OperationalError(f"unable to open the writer lock beside the database: {error}") from error
        _writer.key = key
    return _writer.fd


def create_schema(upgrades: tuple = ()) -> None:
    """Create every missing table, add columns that newer versions of a table have, then run *upgrades*
    (a plugin's functions that bring rows an older version wrote up to date)."""
    with db.connection_context(), _no_statement_timeout():
        migrator = SchemaMigrator.from_database(db)
        tables = set(db.get_tables())
        # New tables first: a column added below may refer to one (Activity.bank to bank_question).
        db.create_tables([model for model in MODELS if model._meta.table_name not in tables], safe=True)
        for model in MODELS:
            if model._meta.table_name not in tables:
                continue
            present = {column.name for column in db.get_columns(model._meta.table_name)}
            for field in model._meta.sorted_fields:
                if field.column_name not in present:
                    _add_column(migrator, model, field)
        for index in OBSOLETE_INDEXES:
            db.execute_sql(f"DROP INDEX IF EXISTS {index}")
        db.create_tables(MODELS, safe=True)  # new tables, and every index (IF NOT EXISTS)
        for upgrade in upgrades:
            upgrade()


@contextmanager
def _no_statement_timeout():
    """Let a schema upgrade run as long as it needs (filling a new column of a big table)."""
    if is_sqlite():
        yield
        return
    db.execute_sql("SET statement_timeout = 0")
    try:
        yield
    finally:
        db.execute_sql("RESET statement_timeout")  # back to the session's configured value


def _add_column(migrator, model, field) -> None:
    """Add *field* as a nullable column (indexes come later) and give existing rows its default."""
    saved = field.null, field.index, field.unique
    field.null, field.index, field.unique = True, False, False
    try:
        migrate(migrator.add_column(model._meta.table_name, field.column_name, field))
    finally:
        field.null, field.index, field.unique = saved
    if field.default is not None and not callable(field.default):
        model.update({field: field.default}).where(field.is_null()).execute()


def init_app(app) -> None:
    """Bind the database proxy, keep a connection per worker, and register `init-db`.

    A request connects on its first query (peewee's autoconnect), inside the code that answers for
    failures: an unreachable database gets the webhook's busy reply and /healthz's 503, not a 500.
    """
    settings = app.config["KETANG"].database
    previous = db.obj
    if previous is not None and hasattr(previous, "close_all"):
        # Another app in this process before this one (tests, tools): the models are bound to this one from now
        # on, so the old pool's connections are closed here rather than left to the garbage collector.
        previous.close_all()
    db.initialize(connect(settings.url, settings.statement_timeout_ms, settings.lock_timeout_ms))

    @app.teardown_appcontext
    def _release(exc):
        if not is_sqlite() and not db.is_closed():
            db.close()  # back to the pool

    @app.cli.command("init-db")
    def init_db_command():
        """Create or upgrade the schema (safe to run twice)."""
        create_schema(app.extensions["ketang"].plugin.upgrades)
        click.echo(f"database ready: {len(MODELS)} tables")
