"""Open the database named by a URL: SQLite (WAL, busy timeout) or pooled PostgreSQL."""

from __future__ import annotations

import click
from peewee import Database, SqliteDatabase
from playhouse.db_url import connect as connect_url
from playhouse.migrate import SchemaMigrator, migrate

from models import MODELS, db

SQLITE_PRAGMAS = {
    "journal_mode": "wal",  # readers never block the writer
    "synchronous": "normal",  # safe with WAL, much faster than full
    "foreign_keys": 1,
    "cache_size": -16000,
    "temp_store": "memory",
}


def connect(url: str) -> Database:
    """Return a peewee database for *url* (not yet connected)."""
    if url.startswith("sqlite:"):
        # One connection per thread, kept open: reconnecting per request costs two thirds of
        # the write throughput. The busy timeout stays under WeChat's 5 s reply deadline.
        path = url.split("sqlite:///", 1)[1] if "sqlite:///" in url else ":memory:"
        return SqliteDatabase(path, timeout=4, pragmas=SQLITE_PRAGMAS)
    if url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+pool://" + url.split("://", 1)[1]
        sep = "&" if "?" in url else "?"
        url += f"{sep}max_connections=8&stale_timeout=300&timeout=10"
        return connect_url(url)
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:///file.db or postgresql://...")


def is_sqlite(database=db) -> bool:
    """Return whether the bound database is SQLite."""
    return isinstance(database.obj if hasattr(database, "obj") else database, SqliteDatabase)


def transaction():
    """Open a write transaction; on SQLite take the write lock up front (no deferred upgrade)."""
    if is_sqlite():
        return db.atomic("IMMEDIATE")
    return db.atomic()


def create_schema() -> None:
    """Create every table and index that is missing, and add columns that newer code expects."""
    with db.connection_context():
        add_missing_columns()  # first: SQLite would index a missing "column" as a string literal
        db.create_tables(MODELS, safe=True)


def add_missing_columns() -> None:
    """Add nullable columns a model gained since its table was created (a light upgrade)."""
    migrator = SchemaMigrator.from_database(db.obj)
    tables = set(db.get_tables())
    for model in (m for m in MODELS if m._meta.table_name in tables):
        table = model._meta.table_name
        have = {column.name for column in db.get_columns(table)}
        missing = [f for f in model._meta.sorted_fields if f.column_name not in have]
        if missing:
            migrate(*(migrator.add_column(table, f.column_name, f) for f in missing))


def init_app(app) -> None:
    """Bind the database proxy, keep a connection per worker, and register `init-db`."""
    db.initialize(connect(app.config["KETANG"].database.url))

    @app.before_request
    def _connect():
        db.connect(reuse_if_open=True)

    @app.teardown_appcontext
    def _release(exc):
        if not is_sqlite() and not db.is_closed():
            db.close()  # back to the pool

    @app.cli.command("init-db")
    def init_db_command():
        """Create or upgrade the schema (safe to run twice)."""
        create_schema()
        click.echo(f"database ready: {len(MODELS)} tables")
