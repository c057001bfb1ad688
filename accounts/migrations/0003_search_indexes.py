"""Fill the search column; on PostgreSQL add tenant-scoped trigram indexes for free-text search and
the last-login index.

`btree_gin` lets one GIN index hold both `organization_id` and the trigrams, so a search reads only
the organisation's entries. Other databases keep working with a scan (fine at their size).
"""

from django.db import migrations

TRIGRAM_INDEXES = [
    ("accounts_user_search_trgm", "accounts_user"),
    ("accounts_contact_search_trgm", "accounts_contact"),
]


def fill_search_text(apps, schema_editor):
    from accounts.search import search_text_for

    for model_name in ("User", "Contact"):
        model = apps.get_model("accounts", model_name)
        rows = list(model.objects.all())
        for row in rows:
            row.search_text = search_text_for(
                first_name=row.first_name,
                last_name=row.last_name,
                email=row.email,
                mobile=row.mobile,
                employee_number=getattr(row, "employee_number", ""),
            )
        model.objects.bulk_update(rows, ["search_text"], batch_size=1000)


def create_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    for name, table in TRIGRAM_INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin (organization_id, search_text gin_trgm_ops)"
        )
    # "Last login, recent first" puts people who never logged in last; read backwards, the same
    # index serves "oldest first" (NULLS FIRST).
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS accounts_user_org_last_login "
        "ON accounts_user (organization_id, last_login DESC NULLS LAST, id DESC)"
    )


def drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table in TRIGRAM_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    schema_editor.execute("DROP INDEX IF EXISTS accounts_user_org_last_login")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_people_list")]

    operations = [
        migrations.RunPython(fill_search_text, migrations.RunPython.noop),
        migrations.RunPython(create_trigram_indexes, drop_trigram_indexes),
    ]
