"""The people version of each organisation, bumped when a write on its people commits.

On PostgreSQL a write notes itself in accounts_peoplechange, and a deferred constraint trigger bumps
accounts_peopleversion at the commit of the writer's transaction, then deletes the note: the version
row is locked for the instant of the commit only, after every other lock of the transaction.
Elsewhere (SQLite: one writer at a time) accounts.selectors.people_changed bumps the row at once.
"""

import django.db.models.deletion
from django.db import migrations, models

CREATE_TRIGGER = """
CREATE FUNCTION accounts_people_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO accounts_peopleversion (organization_id, version)
        SELECT NEW.organization_id, 1
        WHERE EXISTS (SELECT 1 FROM accounts_organization WHERE id = NEW.organization_id)
    ON CONFLICT (organization_id) DO UPDATE SET version = accounts_peopleversion.version + 1;
    DELETE FROM accounts_peoplechange WHERE id = NEW.id;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER accounts_people_version_at_commit
    AFTER INSERT ON accounts_peoplechange
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION accounts_people_version_bump();
"""
DROP_TRIGGER = """
DROP TRIGGER IF EXISTS accounts_people_version_at_commit ON accounts_peoplechange;
DROP FUNCTION IF EXISTS accounts_people_version_bump();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_TRIGGER)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGER)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_usertype_name_key"),
    ]

    operations = [
        migrations.CreateModel(
            name="PeopleVersion",
            fields=[
                (
                    "organization",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="accounts.organization",
                    ),
                ),
                ("version", models.PositiveBigIntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name="PeopleChange",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
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
        migrations.RunPython(create_trigger, drop_trigger),
    ]
