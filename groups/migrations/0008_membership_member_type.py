"""Each membership also carries its member's user type (`member_type_id`), kept equal to the user's by
the triggers that copy the name and the search text (migrations 0005 and 0006), and the index on
(group, the name, user) holds it (`INCLUDE` on PostgreSQL): the people list filtered by a group and a
type checks each member's type in that index, in name order, and reads from the users table only the
members of that type. With a search too, a group of a 1,000,000-person organisation had 961 members
whose text matched, each then read from the users table to check the rest; of those, 320 were of
the chosen type.

The triggers of migration 0006 are replaced by ones that copy the four columns. A user whose type
changes passes it to their memberships in the same statement, as a change of name or text does;
types change by an administrator's edit, not on the hot paths (a login, a status change, an
invitation).

The copied columns also get a default in the database (""), as SQLite's triggers copy after the
insert: a membership written by raw SQL without them was refused there as NOT NULL.
"""

from importlib import import_module

from django.db import migrations, models

PREVIOUS = import_module("groups.migrations.0006_membership_member_search_text")

POSTGRESQL = """
CREATE OR REPLACE FUNCTION usergroups_membership_member_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT last_name, first_name, search_text, user_type_id
        INTO NEW.member_last_name, NEW.member_first_name, NEW.member_search_text, NEW.member_type_id
        FROM accounts_user WHERE id = NEW.user_id;
    IF NOT FOUND THEN
        RAISE foreign_key_violation USING MESSAGE = 'membership of an unknown user: ' || NEW.user_id;
    END IF;
    RETURN NEW;
END
$$;
DROP TRIGGER usergroups_membership_member_name ON usergroups_membership;
CREATE TRIGGER usergroups_membership_member_name
    BEFORE INSERT OR UPDATE OF user_id, member_last_name, member_first_name, member_search_text, member_type_id
    ON usergroups_membership
    FOR EACH ROW EXECUTE FUNCTION usergroups_membership_member_name();

CREATE OR REPLACE FUNCTION usergroups_member_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE usergroups_membership
        SET member_last_name = NEW.last_name, member_first_name = NEW.first_name,
            member_search_text = NEW.search_text, member_type_id = NEW.user_type_id
        WHERE user_id = NEW.id;
    RETURN NULL;
END
$$;
DROP TRIGGER usergroups_member_renamed ON accounts_user;
CREATE TRIGGER usergroups_member_renamed
    AFTER UPDATE OF last_name, first_name, search_text, user_type_id ON accounts_user
    FOR EACH ROW
    WHEN (OLD.last_name IS DISTINCT FROM NEW.last_name OR OLD.first_name IS DISTINCT FROM NEW.first_name
          OR OLD.search_text IS DISTINCT FROM NEW.search_text OR OLD.user_type_id IS DISTINCT FROM NEW.user_type_id)
    EXECUTE FUNCTION usergroups_member_renamed();
"""

# SQLite: recursive triggers are off, so the UPDATE inside a membership trigger does not fire it again.
SQLITE_COPY = """
    UPDATE usergroups_membership SET
        member_last_name = (SELECT last_name FROM accounts_user WHERE id = NEW.user_id),
        member_first_name = (SELECT first_name FROM accounts_user WHERE id = NEW.user_id),
        member_search_text = (SELECT search_text FROM accounts_user WHERE id = NEW.user_id),
        member_type_id = (SELECT user_type_id FROM accounts_user WHERE id = NEW.user_id)
    WHERE id = NEW.id;
"""
SQLITE = [
    f"CREATE TRIGGER usergroups_membership_member_name_insert AFTER INSERT ON usergroups_membership "
    f"BEGIN {SQLITE_COPY} END",
    f"CREATE TRIGGER usergroups_membership_member_name_update "
    f"AFTER UPDATE OF user_id, member_last_name, member_first_name, member_search_text, member_type_id "
    f"ON usergroups_membership BEGIN {SQLITE_COPY} END",
    """CREATE TRIGGER usergroups_member_renamed
    AFTER UPDATE OF last_name, first_name, search_text, user_type_id ON accounts_user
    WHEN OLD.last_name IS NOT NEW.last_name OR OLD.first_name IS NOT NEW.first_name
        OR OLD.search_text IS NOT NEW.search_text OR OLD.user_type_id IS NOT NEW.user_type_id
    BEGIN
        UPDATE usergroups_membership SET member_last_name = NEW.last_name, member_first_name = NEW.first_name,
            member_search_text = NEW.search_text, member_type_id = NEW.user_type_id
        WHERE user_id = NEW.id;
    END""",
]

# As in migration 0006: the copies start from the users' types after the triggers exist (replacing
# a trigger locks its table against writes until this migration commits); the membership trigger,
# which would read each user again, is off for this transaction while one join fills every row.
FILL_POSTGRESQL = """
ALTER TABLE usergroups_membership DISABLE TRIGGER usergroups_membership_member_name;
UPDATE usergroups_membership AS membership SET member_type_id = member.user_type_id
    FROM accounts_user AS member WHERE member.id = membership.user_id AND member.user_type_id IS NOT NULL;
ALTER TABLE usergroups_membership ENABLE TRIGGER usergroups_membership_member_name;
"""
FILL_SQLITE = """
UPDATE usergroups_membership SET member_type_id =
    (SELECT user_type_id FROM accounts_user WHERE accounts_user.id = usergroups_membership.user_id)
"""


def drop_sqlite_triggers(apps, schema_editor):
    """SQLite adds or drops a column by rebuilding the table, which a trigger naming it refuses: the
    triggers are off while the column changes (the migration runs in one transaction)."""
    if schema_editor.connection.vendor == "sqlite":
        for name in PREVIOUS.SQLITE_NAMES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


def restore_previous_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in PREVIOUS.SQLITE:
            schema_editor.execute(statement)


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL)
        schema_editor.execute(FILL_POSTGRESQL)
    elif vendor == "sqlite":
        for statement in SQLITE:
            schema_editor.execute(statement)
        schema_editor.execute(FILL_SQLITE)


def restore_previous_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PREVIOUS.POSTGRESQL)
    elif vendor == "sqlite":
        drop_sqlite_triggers(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("usergroups", "0007_membership_user_group_index"),
    ]

    operations = [
        migrations.RunPython(drop_sqlite_triggers, restore_previous_sqlite_triggers),
        migrations.AddField(
            model_name="membership",
            name="member_type_id",
            field=models.BigIntegerField(blank=True, editable=False, null=True),
        ),
        # A default in the database for the copies, which the triggers overwrite: SQLite's triggers
        # copy after the insert, and refused a row written without them (raw SQL) as NOT NULL.
        *(
            migrations.AlterField(
                model_name="membership",
                name=name,
                field=models.CharField(blank=True, db_default="", default="", editable=False, max_length=length),
            )
            for name, length in (("member_last_name", 150), ("member_first_name", 150), ("member_search_text", 600))
        ),
        # The old index goes first: the fill does not keep it up to date for nothing.
        migrations.RemoveIndex(model_name="membership", name="groups_membership_group_name"),
        migrations.RunPython(create_triggers, restore_previous_triggers),
        # The index again, with the type, in migration 0009: built after this one commits, it holds
        # only the rows' new versions (built here, it also held the versions the fill replaced: twice
        # the size at 1,000,000 memberships).
    ]
