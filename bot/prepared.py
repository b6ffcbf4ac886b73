"""Hot queries compiled once per database: the same peewee query, without rebuilding its SQL.

Peewee turns a query into SQL on every call; in the check-in path that took about half of all CPU
(about 150 µs per query, against about 20 µs to run it: see bench/profile_checkin.py). A
`Prepared` query is built once with named placeholders, compiled once per database, and then run
with plain values: the rows are the same model instances peewee would return.

    by_openid = Prepared(lambda openid: User.select().where(User.openid == openid).limit(1))
    user = by_openid.first("o_abc")

Values are passed as the database sees them: ids for foreign keys (a model instance is turned
into its id), naive-UTC datetimes, strings, numbers.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable

from peewee import Insert, Model

from models import db


class Slot(str):
    """A named placeholder; a str subclass, so peewee's field conversions let it through unchanged."""

    def __new__(cls, name: str):
        slot = super().__new__(cls, f"\x00slot:{name}")
        slot.name = name
        return slot


class Prepared:
    """A query built by *build(placeholders...)*, compiled once per database and run many times."""

    def __init__(self, build: Callable):
        self.build = build
        self.names = list(inspect.signature(build).parameters)
        self._compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._columns: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # per database: the wrapper's column map

    def _get(self):
        database = db.obj
        entry = self._compiled.get(database)
        if entry is None:
            query = self.build(*(Slot(name) for name in self.names))
            _refuse_frozen_defaults(query)
            sql, params = query.sql()
            order = [(self.names.index(p.name), None) if isinstance(p, Slot) else (-1, p) for p in params]
            used = {index for index, _ in order if index >= 0}
            if used != set(range(len(self.names))):  # a placeholder was converted or inlined: refuse
                raise RuntimeError(f"cannot prepare {sql!r}: placeholders {self.names} did not all survive")
            entry = self._compiled[database] = (query, sql, order)
        return entry

    def _run(self, values):
        if len(values) != len(self.names):
            raise TypeError(f"expected {len(self.names)} values ({', '.join(self.names)}), got {len(values)}")
        query, sql, order = self._get()
        values = [v.get_id() if isinstance(v, Model) else v for v in values]
        params = [values[index] if index >= 0 else constant for index, constant in order]
        return query, db.execute_sql(sql, params)

    def _read(self, values, consume):
        """Run the query and hand peewee's row wrapper to *consume*, its column map reused.

        peewee resolves the cursor's columns against the query's models when a wrapper reads its first
        row (about a tenth of the check-in path). The SQL, hence the columns, never change, so the map
        made the first time is kept and given to every later wrapper.
        """
        query, cursor = self._run(values)
        wrapper = query._get_cursor_wrapper(cursor)
        known = self._columns.get(db.obj)
        if known is not None:
            wrapper.__dict__.update(known)
            wrapper.initialized = True
            return consume(wrapper)
        fresh = set(wrapper.__dict__)
        result = consume(wrapper)
        if wrapper.initialized:  # a first row was read: keep what initialising added
            self._columns[db.obj] = {key: value for key, value in wrapper.__dict__.items() if key not in fresh}
        return result

    def rows(self, *values) -> list:
        """All rows, as the query's model instances."""
        return self._read(values, list)

    def first(self, *values):
        """The first row, or None."""
        return self._read(values, lambda wrapper: next(iter(wrapper), None))

    def row(self, *values) -> tuple | None:
        """The first row as a plain tuple (e.g. several COUNTs), or None."""
        return self._run(values)[1].fetchone()

    def scalar(self, *values):
        """The first column of the first row (e.g. a COUNT)."""
        row = self._run(values)[1].fetchone()
        return row[0] if row else None

    def rowcount(self, *values) -> int:
        """Run an INSERT/UPDATE/DELETE; the number of rows it changed."""
        return self._run(values)[1].rowcount


def _refuse_frozen_defaults(query) -> None:
    """An INSERT compiled once would freeze a callable default (say, a timestamp) at its first value."""
    if not isinstance(query, Insert) or not isinstance(getattr(query, "_insert", None), dict):
        return
    given = {field.name for field in query._insert if hasattr(field, "name")}
    frozen = [f.name for f in query.model._meta.sorted_fields if callable(f.default) and f.name not in given]
    if frozen:
        raise RuntimeError(f"cannot prepare an insert into {query.model.__name__}: pass {', '.join(frozen)} explicitly "
                           "(their defaults are computed per row)")
