"""Model instances from a SELECT written by hand, for the few reads that every request of the busiest
pages makes (the tenant, a link's token).

Django's ORM compiles each queryset to SQL again on every call: for a look-up by one indexed value
that is 0.5–2 ms of CPU, ten to thirty times what PostgreSQL spends answering it
(`bench/token_cost.py`). These reads write their SELECT once per process with `Table`, whose column
lists come from the models (a field added to a model is read with no change here), and make their
instances with `Table.build` as the ORM makes them: `Model.from_db`, after the database's and the
fields' own converters. Every such read has a test that compares it with the queryset it replaces.

Keep this to plain look-ups on hot paths; everything else stays a queryset.
"""

from django.db import connections
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
