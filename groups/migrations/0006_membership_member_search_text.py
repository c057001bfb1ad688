"""Each membership also carries its member's search text (`member_search_text`, accounts.search), kept
equal to the user's by the same triggers as the name copy (migration 0005), and the index on (group,
the name, user) holds it (`INCLUDE` on PostgreSQL): the people list filtered by a group and a search
checks each member's words in that index, in name order, and reads from the users table only the
members whose text matches, where it read every member of the group (5,907 users of a
1,000,000-person organisation for `q=ma`, a word too short for the trigram index).

The triggers of migration 0005 are replaced by ones that copy the three columns: a membership written
or moved to another user takes that user's text (whatever the statement gave), and a user whose name
or search text changes passes them to their memberships in the same statement. An UPDATE of users
that changes neither (a login, a status change) does not fire it.
"""

from django.db import migrations, models

POSTGRESQL = """
CREATE OR REPLACE FUNCTION usergroups_membership_member_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT last_name, first_name, search_text
        INTO NEW.member_last_name, NEW.member_first_name, NEW.member_search_text
        FROM accounts_user WHERE id = NEW.user_id;
    IF NOT FOUND THEN
        RAISE foreign_key_violation USING MESSAGE = 'membership of an unknown user: ' || NEW.user_id;
    END IF;
    RETURN NEW;
END
$$;
DROP TRIGGER usergroups_membership_member_name ON usergroups_membership;
CREATE TRIGGER usergroups_membership_member_name
    BEFORE INSERT OR UPDATE OF user_id, member_last_name, member_first_name, member_search_text
    ON usergroups_membership
    FOR EACH ROW EXECUTE FUNCTION usergroups_membership_member_name();

CREATE OR REPLACE FUNCTION usergroups_member_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE usergroups_membership
        SET member_last_name = NEW.last_name, member_first_name = NEW.first_name,
            member_search_text = NEW.search_text
        WHERE user_id = NEW.id;
    RETURN NULL;
END
$$;
DROP TRIGGER usergroups_member_renamed ON accounts_user;
CREATE TRIGGER usergroups_member_renamed AFTER UPDATE OF last_name, first_name, search_text ON accounts_user
    FOR EACH ROW
    WHEN (OLD.last_name IS DISTINCT FROM NEW.last_name OR OLD.first_name IS DISTINCT FROM NEW.first_name
          OR OLD.search_text IS DISTINCT FROM NEW.search_text)
    EXECUTE FUNCTION usergroups_member_renamed();
"""

# Back to migration 0005's triggers.
POSTGRESQL_BACK = """
CREATE OR REPLACE FUNCTION usergroups_membership_member_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT last_name, first_name INTO NEW.member_last_name, NEW.member_first_name
        FROM accounts_user WHERE id = NEW.user_id;
    IF NOT FOUND THEN
        RAISE foreign_key_violation USING MESSAGE = 'membership of an unknown user: ' || NEW.user_id;
    END IF;
    RETURN NEW;
END
$$;
DROP TRIGGER usergroups_membership_member_name ON usergroups_membership;
CREATE TRIGGER usergroups_membership_member_name
    BEFORE INSERT OR UPDATE OF user_id, member_last_name, member_first_name ON usergroups_membership
    FOR EACH ROW EXECUTE FUNCTION usergroups_membership_member_name();

CREATE OR REPLACE FUNCTION usergroups_member_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE usergroups_membership
        SET member_last_name = NEW.last_name, member_first_name = NEW.first_name
        WHERE user_id = NEW.id;
    RETURN NULL;
END
$$;
DROP TRIGGER usergroups_member_renamed ON accounts_user;
CREATE TRIGGER usergroups_member_renamed AFTER UPDATE OF last_name, first_name ON accounts_user
    FOR EACH ROW
    WHEN (OLD.last_name IS DISTINCT FROM NEW.last_name OR OLD.first_name IS DISTINCT FROM NEW.first_name)
    EXECUTE FUNCTION usergroups_member_renamed();
"""

# SQLite: recursive triggers are off, so the UPDATE inside a membership trigger does not fire it again.
SQLITE_COPY = """
    UPDATE usergroups_membership SET
        member_last_name = (SELECT last_name FROM accounts_user WHERE id = NEW.user_id),
        member_first_name = (SELECT first_name FROM accounts_user WHERE id = NEW.user_id),
        member_search_text = (SELECT search_text FROM accounts_user WHERE id = NEW.user_id)
    WHERE id = NEW.id;
"""
SQLITE_NAMES = (
    "usergroups_membership_member_name_insert",
    "usergroups_membership_member_name_update",
    "usergroups_member_renamed",
)
SQLITE = [
    f"CREATE TRIGGER usergroups_membership_member_name_insert AFTER INSERT ON usergroups_membership "
    f"BEGIN {SQLITE_COPY} END",
    f"CREATE TRIGGER usergroups_membership_member_name_update "
    f"AFTER UPDATE OF user_id, member_last_name, member_first_name, member_search_text ON usergroups_membership "
    f"BEGIN {SQLITE_COPY} END",
    """CREATE TRIGGER usergroups_member_renamed AFTER UPDATE OF last_name, first_name, search_text ON accounts_user
    WHEN OLD.last_name IS NOT NEW.last_name OR OLD.first_name IS NOT NEW.first_name
        OR OLD.search_text IS NOT NEW.search_text
    BEGIN
        UPDATE usergroups_membership SET member_last_name = NEW.last_name, member_first_name = NEW.first_name,
            member_search_text = NEW.search_text
        WHERE user_id = NEW.id;
    END""",
]

# The copies start from the users' text after the triggers exist: on PostgreSQL, replacing a trigger
# locks its table against writes until this migration commits, so no change is missed. The membership
# trigger, which would read each user again, is off (for this transaction only) while one join fills
# every row.
FILL_POSTGRESQL = """
ALTER TABLE usergroups_membership DISABLE TRIGGER usergroups_membership_member_name;
UPDATE usergroups_membership AS membership SET member_search_text = member.search_text
    FROM accounts_user AS member WHERE member.id = membership.user_id;
ALTER TABLE usergroups_membership ENABLE TRIGGER usergroups_membership_member_name;
"""
FILL_SQLITE = """
UPDATE usergroups_membership SET member_search_text =
    (SELECT search_text FROM accounts_user WHERE accounts_user.id = usergroups_membership.user_id)
"""


def drop_sqlite_triggers(apps, schema_editor):
    """SQLite adds or drops a column by rebuilding the table, which a trigger naming it refuses: the
    triggers are off while the column is added (the migration runs in one transaction)."""
    if schema_editor.connection.vendor == "sqlite":
        for name in SQLITE_NAMES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


def restore_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        from importlib import import_module

        previous = import_module("groups.migrations.0005_membership_member_name")
        for statement in previous.SQLITE:
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


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_BACK)
    elif vendor == "sqlite":
        drop_sqlite_triggers(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("usergroups", "0005_membership_member_name"),
    ]

    operations = [
        migrations.RunPython(drop_sqlite_triggers, restore_sqlite_triggers),
        migrations.AddField(
            model_name="membership",
            name="member_search_text",
            field=models.CharField(blank=True, default="", editable=False, max_length=600),
        ),
        # The old index goes first: the fill does not keep it up to date for nothing.
        migrations.RemoveIndex(model_name="membership", name="groups_membership_group_name"),
        migrations.RunPython(create_triggers, drop_triggers),
        migrations.AddIndex(
            model_name="membership",
            index=models.Index(
                fields=["group", "member_last_name", "member_first_name", "user"],
                include=["member_search_text"],
                name="groups_membership_group_name",
            ),
        ),
    ]
