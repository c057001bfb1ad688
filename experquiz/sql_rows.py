"""Model instances from a SELECT written by hand, for the few reads that every request of the busiest
pages makes (the tenant, a link's token).

Django's ORM compiles each queryset to SQL again on every call: for a look-up by one indexed value
that is 0.5–2 ms of CPU, ten to thirty times what PostgreSQL spends answering it
(`bench/token_cost.py`). These reads write their SELECT once per process with `Table`, whose column
lists come from the models (a field added to a model is read with no change here), and make their
instances with `Table.build` as the ORM makes them: `Model.from_db`, after the database's and the
fields' own converters. Every such read has a test that compares it with the queryset it replaces.
`Statement` then has PostgreSQL plan each of them once per connection rather than at every call.

Keep this to plain look-ups on hot paths; everything else stays a queryset.
"""

import re
import weakref

from django.db import ProgrammingError, connection, connections
from django.db.models.expressions import Col


class Table:
    """A model's table in a hand-written SELECT, under `alias`: `source` for the FROM or JOIN clause,
    `columns` for the select list (every concrete field, in order), `column(name)` for conditions,
    and `build(row, start)` for the instance made of the row's values from position `start`."""

    def __init__(self, model, alias: str, *, using: str = "default"):
        quote = connections[using].ops.quote_name
        self.model = model
        self.alias = alias
        self.using = using
        self.fields = list(model._meta.concrete_fields)
        self.attnames = [field.attname for field in self.fields]
        self.pk_position = self.fields.index(model._meta.pk)
        self.source = f"{quote(model._meta.db_table)} {alias}"
        self.columns = ", ".join(f"{alias}.{quote(field.column)}" for field in self.fields)
        self._quote = quote
        self._converters = None

    def __len__(self) -> int:
        return len(self.fields)

    def column(self, name: str) -> str:
        """The qualified column of field `name` (`"i"."token_hash"`), for WHERE and JOIN clauses."""
        return f"{self.alias}.{self._quote(self.model._meta.get_field(name).column)}"

    def build(self, row, start: int = 0):
        """The instance of this table's values in `row`, from `start`; None when its primary key is
        NULL (a LEFT JOIN that found no row)."""
        values = list(row[start : start + len(self.fields)])
        if values[self.pk_position] is None:
            return None
        connection = connections[self.using]
        for position, converters, column in self.converters(connection):
            value = values[position]
            for converter in converters:
                value = converter(value, column, connection)
            values[position] = value
        return self.model.from_db(self.using, self.attnames, values)

    def converters(self, connection):
        """[(position, converters, column)] of the fields whose values need converting, as the ORM's
        compiler finds them (`SQLCompiler.get_converters`)."""
        if self._converters is None:
            found = []
            for position, field in enumerate(self.fields):
                column = Col(self.alias, field)
                converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
                if converters:
                    found.append((position, converters, column))
            self._converters = found
        return self._converters


# The statements prepared on each open PostgreSQL connection (psycopg's connection object: a new one
# after a reconnection has none).
_prepared = weakref.WeakKeyDictionary()
INVALID_STATEMENT_NAME = "26000"  # PostgreSQL: no prepared statement of that name


class Statement:
    """A hand-written SELECT (`%s` parameters) that PostgreSQL plans once per connection.

    Planning a join of a few tables costs the server more CPU than running it (a link's read: 0.5 ms
    to plan, 0.1 to run). With persistent connections (CONN_MAX_AGE), the first call on a connection
    PREPAREs it, and every call EXECUTEs it: PostgreSQL plans it again only while its generic plan
    would be worse than a fresh one (conditions on a partial index must be written out for the generic
    plan to use it). Otherwise (SQLite, a connection per request) it is sent as it is. Session-level
    prepared statements need the connection itself: not a pooler that hands each transaction another
    server connection (PgBouncer's transaction mode), the reason Django's psycopg settings prepare nothing.
    """

    def __init__(self, name: str, sql: str):
        self.name = name
        self.sql = sql
        parameters = sql.count("%s")
        numbered = iter(range(1, parameters + 1))
        self.prepare = f"PREPARE {name} AS " + re.sub("%s", lambda _match: f"${next(numbered)}", sql)
        self.execute = f"EXECUTE {name}({', '.join(['%s'] * parameters)})" if parameters else f"EXECUTE {name}"

    def fetchone(self, params):
        return self._run(params, lambda cursor: cursor.fetchone())

    def fetchall(self, params):
        return self._run(params, lambda cursor: cursor.fetchall())

    def _run(self, params, fetch):
        with connection.cursor() as cursor:
            if not _prepares():
                cursor.execute(self.sql, params)
                return fetch(cursor)
            _prepare(cursor, [self])
            try:
                cursor.execute(self.execute, params)
            except ProgrammingError as error:
                _prepare_again(cursor, [self], error)
                cursor.execute(self.execute, params)
            return fetch(cursor)


def fetchall_together(*calls: tuple[Statement, list]) -> list[list[tuple]]:
    """The rows of each (statement, parameters) of `calls`, in order, read in one round trip.

    On PostgreSQL the statements go as one string (Django's psycopg cursor binds parameters on the
    client, so several statements may share an execute) and their results are read one after the
    other (`nextset`): three reads of a page cost one wait for the database instead of three.
    Elsewhere they run one by one. (With the `server_side_binding` option of Django's PostgreSQL
    backend, which these settings do not set, PostgreSQL would refuse several statements in one.)"""
    if connection.vendor != "postgresql":
        return [statement.fetchall(params) for statement, params in calls]
    persistent = _prepares()
    sql = "; ".join(statement.execute if persistent else statement.sql for statement, _params in calls)
    params = [value for _statement, values in calls for value in values]
    statements = [statement for statement, _params in calls]
    with connection.cursor() as cursor:
        if persistent:
            _prepare(cursor, statements)
        try:
            cursor.execute(sql, params)
        except ProgrammingError as error:
            if not persistent:
                raise
            _prepare_again(cursor, statements, error)
            cursor.execute(sql, params)
        results = [cursor.fetchall()]
        while cursor.nextset():
            results.append(cursor.fetchall())
    return results


def _prepares() -> bool:
    """Whether reads are prepared on this connection: PostgreSQL, with persistent connections."""
    return connection.vendor == "postgresql" and connection.settings_dict["CONN_MAX_AGE"] != 0


def _prepare(cursor, statements):
    """PREPARE those of `statements` that this connection has not prepared yet."""
    prepared = _prepared.setdefault(connection.connection, set())
    for statement in statements:
        if statement.name not in prepared:
            cursor.execute(statement.prepare)
            prepared.add(statement.name)


def _prepare_again(cursor, statements, error):
    """After `error`: if it says a prepared statement is gone from the session (DEALLOCATE, DISCARD
    ALL), prepare `statements` again, outside a transaction; otherwise raise it."""
    if getattr(error.__cause__, "sqlstate", None) != INVALID_STATEMENT_NAME or connection.in_atomic_block:
        raise error
    prepared = _prepared.setdefault(connection.connection, set())
    for statement in statements:
        prepared.discard(statement.name)
    _prepare(cursor, statements)
