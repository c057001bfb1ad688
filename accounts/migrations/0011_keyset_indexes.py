"""Indexes that give each order of the people list whole, the id included, so that a page is read
from the previous page's last row (experquiz.keyset) instead of counting rows off with OFFSET.

The name and creation indexes end with the id now. On PostgreSQL, the last-login index follows the
list's order, which places "never logged in" before every login (flows.filters.LAST_LOGIN): one
index on that expression and the id gives both directions, and a row comparison on it is an index
range (the index of migration 0003 had NULLs apart, so a page crossing them read from the start).
"""

from django.db import migrations, models

# The expression must be written as the list's queries write it (flows.filters.LAST_LOGIN), or
# PostgreSQL does not recognise the index.
CREATE_LAST_LOGIN = """
CREATE INDEX IF NOT EXISTS accounts_user_org_login_order ON accounts_user
    (organization_id, COALESCE(last_login, '0001-01-01 00:00:00+00'::timestamptz), id)
"""
DROP_LAST_LOGIN = "DROP INDEX IF EXISTS accounts_user_org_login_order"
OLD_LAST_LOGIN = (
    "CREATE INDEX IF NOT EXISTS accounts_user_org_last_login "
    "ON accounts_user (organization_id, last_login DESC NULLS LAST, id DESC)"
)


def last_login_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS accounts_user_org_last_login")
        schema_editor.execute(CREATE_LAST_LOGIN)


def old_last_login_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_LAST_LOGIN)
        schema_editor.execute(OLD_LAST_LOGIN)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0010_bulk_change"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="user", name="accounts_user_org_name"),
        migrations.RemoveIndex(model_name="user", name="accounts_user_org_created"),
        migrations.AddIndex(
            model_name="user",
            index=models.Index(fields=["organization", "last_name", "first_name", "id"], name="accounts_user_org_name"),
        ),
        migrations.AddIndex(
            model_name="user",
            index=models.Index(fields=["organization", "created_at", "id"], name="accounts_user_org_created"),
        ),
        migrations.RunPython(last_login_index, old_last_login_index),
    ]
