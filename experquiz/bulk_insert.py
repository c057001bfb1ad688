"""Writing thousands of rows at once: `bulk_create`'s and `bulk_update`'s results, at the cost of
PostgreSQL's COPY and of one UPDATE over arrays.

An import of 10,000 people writes 10,000 users, 10,000 history rows, 20,000 audit events and the
memberships; a group's invitations as many again. `bulk_create` builds each statement in Python
(a value prepared per field per row, then, on PostgreSQL, every column quoted as an array literal),
which took most of an import's time (issue 12). On PostgreSQL, `insert_many` takes the new ids from
the table's sequence in one query and streams the rows with COPY; elsewhere it is `bulk_create`.
Either way the objects come back with their primary keys set, and no signal is sent (as with
`bulk_create`).

An import that updates 10,000 people changes ten columns of each. `bulk_update` writes that as one
`CASE WHEN id = … THEN …` per column with a branch per row, each branch an expression Django resolves
and compiles: 14 s of Python for 10,000 people (issue 12). On PostgreSQL, `update_many` sends each
column's values as one array and joins them to the table by primary key (`UPDATE … FROM unnest(…)`);
elsewhere it is `bulk_update`. Like `bulk_update`, it writes the attributes as they are (an
`auto_now` field is not set for you) and sends no signal.
"""

import re
from operator import attrgetter

from django.db import connections, models, router, transaction

# The field types (exactly these, not subclasses) whose attribute value is what the database stores,
# as psycopg adapts it; any other goes through the field's own preparation.
_PLAIN = {
    models.CharField,
    models.EmailField,
    models.TextField,
    models.IntegerField,
    models.BigIntegerField,
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
    models.PositiveBigIntegerField,
    models.BooleanField,
    models.ForeignKey,
    models.DateTimeField,
    models.BigAutoField,
    models.AutoField,
}


def insert_many(model, objects, *, batch_size: int = 1000) -> list:
    """Insert `objects` (new instances of `model`) and return them with their primary keys."""
    objects = list(objects)
    if not objects:
        return objects
    connection = connections[router.db_for_write(model)]
    pk = model._meta.pk
    if connection.vendor != "postgresql" or not isinstance(pk, models.AutoField | models.BigAutoField):
        return model.objects.bulk_create(objects, batch_size=batch_size)
    table = model._meta.db_table
    fields = list(model._meta.concrete_fields)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [connection.ops.quote_name(table), pk.column, len(objects)],
        )
        for obj, (value,) in zip(objects, cursor.fetchall(), strict=True):
            setattr(obj, pk.attname, value)
        columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
        values = [_reader(field, connection) for field in fields]
        with cursor.cursor.copy(f"COPY {connection.ops.quote_name(table)} ({columns}) FROM STDIN") as copy:
            for obj in objects:
                copy.write_row([value(obj) for value in values])
    for obj in objects:
        obj._state.adding = False
        obj._state.db = connection.alias
    return objects


def _reader(field, connection):
    """What gives `field`'s value for the database from an object: chosen once per field, not per
    row and field (thousands of rows, a dozen fields each)."""
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return lambda obj: field.pre_save(obj, add=True)
    if type(field) in _PLAIN:
        return attrgetter(field.attname)
    return lambda obj: field.get_db_prep_save(field.pre_save(obj, add=True), connection)


def update_many(model, objects, fields, *, batch_size: int = 1000) -> None:
    """Write `fields` (names of concrete, non-primary-key fields) of `objects`, saved instances of
    `model`, each once, as `model.objects.bulk_update(objects, fields, batch_size)` does, all or
    nothing. Unlike `bulk_update` on PostgreSQL, a text longer than its column is refused
    (`DataError`), not cut to the column's length."""
    objects = list(objects)
    if not fields:
        raise ValueError("Field names must be given to update_many().")
    if any(obj.pk is None for obj in objects):
        raise ValueError("All update_many() objects must have a primary key set.")
    if len({obj.pk for obj in objects}) != len(objects):
        raise ValueError("Each update_many() object must be given once.")
    if not objects:
        return
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objects, fields, batch_size=batch_size)
        return
    opts = model._meta
    columns = [opts.pk, *(opts.get_field(name) for name in fields)]
    if not all(field.concrete and not field.primary_key for field in columns[1:]):
        raise ValueError(f"update_many() writes concrete fields other than the primary key, not {fields}.")
    quote = connection.ops.quote_name
    # One array per column, typed as the column without its length (NULLs allowed), read back row by
    # row by unnest: the column's own type then refuses a text too long, where a cast would cut it.
    arrays = ", ".join(f"%s::{_unbounded(field.cast_db_type(connection))}[]" for field in columns)
    names = ", ".join(quote(field.column) for field in columns)
    assignments = ", ".join(f"{quote(field.column)} = new.{quote(field.column)}" for field in columns[1:])
    table, pk = quote(opts.db_table), quote(opts.pk.column)
    sql = (
        f"UPDATE {table} SET {assignments} FROM unnest({arrays}) AS new({names}) "  # noqa: S608
        f"WHERE {table}.{pk} = new.{pk}"
    )
    values = [_saved_value(field, connection) for field in columns]
    with transaction.atomic(using=connection.alias, savepoint=False), connection.cursor() as cursor:
        for start in range(0, len(objects), batch_size):
            batch = objects[start : start + batch_size]
            cursor.execute(sql, [[value(obj) for obj in batch] for value in values])


def _unbounded(db_type: str) -> str:
    """`varchar(150)` → `varchar`: the type, without the length a cast would cut texts to."""
    return re.sub(r"^(varchar|character varying)\(\d+\)$", r"\1", db_type)


def _saved_value(field, connection):
    """What gives `field`'s stored value from a saved object, without `pre_save` (as `bulk_update`)."""
    if type(field) in _PLAIN:
        return attrgetter(field.attname)
    return lambda obj: field.get_db_prep_save(getattr(obj, field.attname), connection)
