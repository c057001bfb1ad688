"""The triggers that copy a member's name and search text onto their memberships (migrations 0005 and
0006) now copy their user type too (`member_type_id`, migration 0008), then every membership's copy
is filled.

A membership written or moved to another user takes that user's values, whatever the statement gave;
a user whose name, search text or type changes passes them to their memberships in the same
statement. Types change by an administrator's edit, a bulk action or an import that updates people,
not on the hot paths (a sign-in, a status change, an invitation).

The people versions go up with the fill (accounts.PeopleVersion): counts cached before it, by a
process that read the memberships without their copies, are not read again.

On PostgreSQL the triggers are replaced in place (`CREATE OR REPLACE TRIGGER`, PostgreSQL 14): that
locks the users and the memberships against writes until this migration commits, so no change is
missed by the fill, but not against reads (dropping a trigger would). The fill writes every
membership once (with migrations 0008 and 0010: 97 s for 1,500,000 memberships on a 2-core machine),
during which sign-ins and changes of people wait.
"""

from importlib import import_module

from django.db import migrations

PREVIOUS = import_module("groups.migrations.0006_membership_member_search_text")

# The users first, then the memberships, as a change of name or type locks them (its row, then its
# memberships through the trigger): a rename running when this migration starts waits for it, or it
# waits for the rename; taken the other way round, the two could deadlock.
POSTGRESQL = """
LOCK TABLE accounts_user, usergroups_membership IN SHARE ROW EXCLUSIVE MODE;
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
CREATE OR REPLACE TRIGGER usergroups_membership_member_name
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
CREATE OR REPLACE TRIGGER usergroups_member_renamed
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
NEW_PEOPLE_VERSIONS = "UPDATE accounts_peopleversion SET version = version + 1"
FILL_SQLITE = """
UPDATE usergroups_membership SET member_type_id =
    (SELECT user_type_id FROM accounts_user WHERE accounts_user.id = usergroups_membership.user_id)
"""


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL)
        schema_editor.execute(FILL_POSTGRESQL)
    elif vendor == "sqlite":
        for statement in SQLITE:
            schema_editor.execute(statement)
        schema_editor.execute(FILL_SQLITE)
    schema_editor.execute(NEW_PEOPLE_VERSIONS)


def restore_previous_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PREVIOUS.POSTGRESQL)
    else:
        # SQLite: dropped (migration 0006's function, same names); migration 0008, undone next, puts
        # back migration 0006's.
        PREVIOUS.drop_sqlite_triggers(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("usergroups", "0008_membership_member_type"),
    ]

    operations = [
        migrations.RunPython(create_triggers, restore_previous_triggers),
    ]
