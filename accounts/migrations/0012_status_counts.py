"""Users per organisation and status (accounts.StatusCount), kept by triggers on the users table.

Every write that creates, deletes or moves a user, or changes a status, goes through the table's
triggers, whatever wrote it: the services, an import's COPY, a raw UPDATE, the platform admin.

PostgreSQL: one statement-level trigger per kind of write reads the statement's rows (transition
tables, so a COPY of 100,000 rows costs one GROUP BY) and notes the net change per organisation and
status in accounts_statuscountchange. A deferred constraint trigger on that table adds every note of
the transaction to accounts_statuscount at the commit, in (organisation, status) order, then deletes
them. The people version's trigger (migration 0008) does the same first, so a committing transaction
always locks the count rows, in one order, before the version row: the count rows are held for the
instant of the commit only, and two writers cannot wait for each other in a cycle.

SQLite (one writer at a time): row triggers change accounts_statuscount at once.

The counts start from a count of the users made after the triggers exist: on PostgreSQL, creating a
trigger locks the users table against writes until this migration commits, so none is missed.
"""

import django.db.models.deletion
from django.db import migrations, models

POSTGRESQL = """
CREATE FUNCTION accounts_status_counts_apply() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- The notes this transaction can see are its own (every transaction deletes its notes before
    -- it commits), or left by a session whose triggers were off: correct changes either way.
    WITH noted AS (
        DELETE FROM accounts_statuscountchange RETURNING organization_id, status, delta
    ), summed AS (
        SELECT organization_id, status, SUM(delta) AS delta FROM noted
        GROUP BY organization_id, status HAVING SUM(delta) <> 0
    )
    INSERT INTO accounts_statuscount (organization_id, status, count)
        SELECT summed.organization_id, summed.status, summed.delta FROM summed
        WHERE EXISTS (SELECT 1 FROM accounts_organization WHERE id = summed.organization_id)
        ORDER BY summed.organization_id, summed.status
    ON CONFLICT (organization_id, status) DO UPDATE SET count = accounts_statuscount.count + EXCLUDED.count;
END
$$;

CREATE FUNCTION accounts_status_counts_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM accounts_status_counts_apply();
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER accounts_status_counts_at_commit
    AFTER INSERT ON accounts_statuscountchange
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION accounts_status_counts_at_commit();

CREATE FUNCTION accounts_user_status_counts_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO accounts_statuscountchange (organization_id, status, delta)
            SELECT organization_id, status, COUNT(*) FROM new_rows
            WHERE organization_id IS NOT NULL GROUP BY organization_id, status;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO accounts_statuscountchange (organization_id, status, delta)
            SELECT organization_id, status, -COUNT(*) FROM old_rows
            WHERE organization_id IS NOT NULL GROUP BY organization_id, status;
    ELSE
        -- Most updates change neither (a login, a rename): nothing is noted.
        INSERT INTO accounts_statuscountchange (organization_id, status, delta)
            SELECT organization_id, status, SUM(delta) FROM (
                SELECT organization_id, status, 1 AS delta FROM new_rows
                UNION ALL
                SELECT organization_id, status, -1 AS delta FROM old_rows
            ) AS moved
            WHERE organization_id IS NOT NULL
            GROUP BY organization_id, status HAVING SUM(delta) <> 0;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER accounts_user_status_counts_insert AFTER INSERT ON accounts_user
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION accounts_user_status_counts_note();
CREATE TRIGGER accounts_user_status_counts_update AFTER UPDATE ON accounts_user
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION accounts_user_status_counts_note();
CREATE TRIGGER accounts_user_status_counts_delete AFTER DELETE ON accounts_user
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION accounts_user_status_counts_note();

CREATE FUNCTION accounts_organization_status_counts_drop() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM accounts_statuscount WHERE organization_id = OLD.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER accounts_organization_status_counts_drop AFTER DELETE ON accounts_organization
    FOR EACH ROW EXECUTE FUNCTION accounts_organization_status_counts_drop();

-- The people version's commit trigger adds up the counts first (see above).
CREATE OR REPLACE FUNCTION accounts_people_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM accounts_status_counts_apply();
    INSERT INTO accounts_peopleversion (organization_id, version)
        SELECT NEW.organization_id, 1
        WHERE EXISTS (SELECT 1 FROM accounts_organization WHERE id = NEW.organization_id)
    ON CONFLICT (organization_id) DO UPDATE SET version = accounts_peopleversion.version + 1;
    DELETE FROM accounts_peoplechange WHERE id = NEW.id;
    RETURN NULL;
END
$$;
"""

POSTGRESQL_DROP = """
CREATE OR REPLACE FUNCTION accounts_people_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO accounts_peopleversion (organization_id, version)
        SELECT NEW.organization_id, 1
        WHERE EXISTS (SELECT 1 FROM accounts_organization WHERE id = NEW.organization_id)
    ON CONFLICT (organization_id) DO UPDATE SET version = accounts_peopleversion.version + 1;
    DELETE FROM accounts_peoplechange WHERE id = NEW.id;
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS accounts_organization_status_counts_drop ON accounts_organization;
DROP FUNCTION IF EXISTS accounts_organization_status_counts_drop();
DROP TRIGGER IF EXISTS accounts_user_status_counts_insert ON accounts_user;
DROP TRIGGER IF EXISTS accounts_user_status_counts_update ON accounts_user;
DROP TRIGGER IF EXISTS accounts_user_status_counts_delete ON accounts_user;
DROP FUNCTION IF EXISTS accounts_user_status_counts_note();
DROP TRIGGER IF EXISTS accounts_status_counts_at_commit ON accounts_statuscountchange;
DROP FUNCTION IF EXISTS accounts_status_counts_at_commit();
DROP FUNCTION IF EXISTS accounts_status_counts_apply();
"""

# SQLite: no statement triggers, and none needed (one writer at a time).
SQLITE = [
    """CREATE TRIGGER accounts_user_status_counts_insert AFTER INSERT ON accounts_user
    WHEN NEW.organization_id IS NOT NULL
    BEGIN
        INSERT INTO accounts_statuscount (organization_id, status, count) VALUES (NEW.organization_id, NEW.status, 1)
        ON CONFLICT (organization_id, status) DO UPDATE SET count = count + 1;
    END""",
    """CREATE TRIGGER accounts_user_status_counts_delete AFTER DELETE ON accounts_user
    WHEN OLD.organization_id IS NOT NULL
    BEGIN
        INSERT INTO accounts_statuscount (organization_id, status, count) VALUES (OLD.organization_id, OLD.status, -1)
        ON CONFLICT (organization_id, status) DO UPDATE SET count = count - 1;
    END""",
    """CREATE TRIGGER accounts_user_status_counts_update AFTER UPDATE OF status, organization_id ON accounts_user
    WHEN OLD.status IS NOT NEW.status OR OLD.organization_id IS NOT NEW.organization_id
    BEGIN
        INSERT INTO accounts_statuscount (organization_id, status, count)
            SELECT OLD.organization_id, OLD.status, -1 WHERE OLD.organization_id IS NOT NULL
        ON CONFLICT (organization_id, status) DO UPDATE SET count = count - 1;
        INSERT INTO accounts_statuscount (organization_id, status, count)
            SELECT NEW.organization_id, NEW.status, 1 WHERE NEW.organization_id IS NOT NULL
        ON CONFLICT (organization_id, status) DO UPDATE SET count = count + 1;
    END""",
    """CREATE TRIGGER accounts_organization_status_counts_drop AFTER DELETE ON accounts_organization
    BEGIN
        DELETE FROM accounts_statuscount WHERE organization_id = OLD.id;
    END""",
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {name}"
    for name in (
        "accounts_user_status_counts_insert",
        "accounts_user_status_counts_delete",
        "accounts_user_status_counts_update",
        "accounts_organization_status_counts_drop",
    )
]

FILL = """
INSERT INTO accounts_statuscount (organization_id, status, count)
    SELECT organization_id, status, COUNT(*) FROM accounts_user
    WHERE organization_id IS NOT NULL GROUP BY organization_id, status
"""


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL)
    elif vendor == "sqlite":
        for statement in SQLITE:
            schema_editor.execute(statement)
    else:
        return  # elsewhere the list counts its people with a query (rights.selectors.user_status_counts)
    schema_editor.execute(FILL)


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_DROP)
    elif vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0011_keyset_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="StatusCountChange",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("status", models.CharField(max_length=10)),
                ("delta", models.BigIntegerField()),
                (
                    "organization",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.organization",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="StatusCount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("status", models.CharField(max_length=10)),
                ("count", models.BigIntegerField(default=0)),
                (
                    "organization",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.organization",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("organization", "status"), name="accounts_statuscount_unique")
                ],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
