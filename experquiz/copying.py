"""Inserting many rows at once, as fast as the database allows: COPY on PostgreSQL (no model instance
is made, no value goes through the ORM's preparation), `bulk_create` elsewhere. For writes of
thousands of plain rows in one service (an assessment invitation's places and messages)."""

from django.db import connection
from django.utils import timezone


def insert_rows(model, rows: list[dict]) -> None:
    """Insert `rows`, each a dict of field attnames (`organization_id`, …) to plain Python values; the
    fields a row leaves out take their defaults (`auto_now(_add)`: now). In the order given, so the
    ids follow it. Sends no signal and returns no id: read the rows back when they are needed."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**row) for row in rows], batch_size=2000)
        return
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    now = timezone.now()
    fixed, per_row = {}, []
    for field in fields:
        if field.attname in rows[0]:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            fixed[field.attname] = now
        elif field.has_default() and callable(field.default):
            per_row.append(field)  # a random nonce, say: one per row
        else:
            fixed[field.attname] = field.get_default()
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    names = [field.attname for field in fields]
    statement = f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            values = {**fixed, **row}
            for field in per_row:
                values[field.attname] = field.get_default()
            copy.write_row([values[name] for name in names])
