"""Writing thousands of new rows at once: `bulk_create`'s result, at the cost of PostgreSQL's COPY.

An import of 10,000 people writes 10,000 users, 10,000 history rows, 20,000 audit events and the
memberships; a group's invitations as many again. `bulk_create` builds each statement in Python
(a value prepared per field per row, then, on PostgreSQL, every column quoted as an array literal),
which took most of an import's time (issue 12). On PostgreSQL, `insert_many` takes the new ids from
the table's sequence in one query and streams the rows with COPY; elsewhere it is `bulk_create`.
Either way the objects come back with their primary keys set, and no signal is sent (as with
`bulk_create`).
"""

from operator import attrgetter

from django.db import connections, models, router

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
