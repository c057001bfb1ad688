"""Each membership carries its member's name (member_last_name, member_first_name), kept equal to the
user's by triggers, and an index on (group, the name, user): the people list filtered by a group
reads that group's members in name order, a page at a time, then the users by primary key, where it
collected and sorted the whole group (5,630 people of a 1,000,000-person organisation).

Every write goes through the triggers, whatever wrote it: the services, bulk inserts, an import's
COPY, a raw UPDATE, the platform admin. A membership written or moved to another user takes that
user's name (whatever the statement gave: the copy cannot be set by hand); a user whose name changes
passes it to their memberships in the same statement. A membership of a user that does not exist is
refused at once (the foreign key would refuse it at the commit).

PostgreSQL and SQLite: a row trigger on each membership INSERT, or UPDATE of the user or the copy
(one primary-key read of the user), and a row trigger after an UPDATE of users that changes a name
(its memberships by their user index). An UPDATE that sets no name (a login, a status change, a
bulk status change) does not fire it; one that sets a name to the same value fires it but its
condition, checked without calling it, skips it.

Other databases keep no copy, and the list sorts a group's members as before (flows.filters).
"""

from django.db import migrations, models

POSTGRESQL = """
CREATE FUNCTION usergroups_membership_member_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT last_name, first_name INTO NEW.member_last_name, NEW.member_first_name
        FROM accounts_user WHERE id = NEW.user_id;
    IF NOT FOUND THEN
        RAISE foreign_key_violation USING MESSAGE = 'membership of an unknown user: ' || NEW.user_id;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER usergroups_membership_member_name
    BEFORE INSERT OR UPDATE OF user_id, member_last_name, member_first_name ON usergroups_membership
    FOR EACH ROW EXECUTE FUNCTION usergroups_membership_member_name();

CREATE FUNCTION usergroups_member_renamed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE usergroups_membership
        SET member_last_name = NEW.last_name, member_first_name = NEW.first_name
        WHERE user_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER usergroups_member_renamed AFTER UPDATE OF last_name, first_name ON accounts_user
    FOR EACH ROW
    WHEN (OLD.last_name IS DISTINCT FROM NEW.last_name OR OLD.first_name IS DISTINCT FROM NEW.first_name)
    EXECUTE FUNCTION usergroups_member_renamed();
"""

POSTGRESQL_DROP = """
DROP TRIGGER IF EXISTS usergroups_member_renamed ON accounts_user;
DROP FUNCTION IF EXISTS usergroups_member_renamed();
DROP TRIGGER IF EXISTS usergroups_membership_member_name ON usergroups_membership;
DROP FUNCTION IF EXISTS usergroups_membership_member_name();
"""

# SQLite: recursive triggers are off, so the UPDATE inside a membership trigger does not fire it again.
SQLITE_COPY = """
    UPDATE usergroups_membership SET
        member_last_name = (SELECT last_name FROM accounts_user WHERE id = NEW.user_id),
        member_first_name = (SELECT first_name FROM accounts_user WHERE id = NEW.user_id)
    WHERE id = NEW.id;
"""
SQLITE = [
    f"CREATE TRIGGER usergroups_membership_member_name_insert AFTER INSERT ON usergroups_membership "
    f"BEGIN {SQLITE_COPY} END",
    f"CREATE TRIGGER usergroups_membership_member_name_update "
    f"AFTER UPDATE OF user_id, member_last_name, member_first_name ON usergroups_membership "
    f"BEGIN {SQLITE_COPY} END",
    """CREATE TRIGGER usergroups_member_renamed AFTER UPDATE OF last_name, first_name ON accounts_user
    WHEN OLD.last_name IS NOT NEW.last_name OR OLD.first_name IS NOT NEW.first_name
    BEGIN
        UPDATE usergroups_membership SET member_last_name = NEW.last_name, member_first_name = NEW.first_name
        WHERE user_id = NEW.id;
    END""",
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {name}"
    for name in (
        "usergroups_membership_member_name_insert",
        "usergroups_membership_member_name_update",
        "usergroups_member_renamed",
    )
]

# The copies start from the users' names after the triggers exist: on PostgreSQL, creating a trigger
# locks its table against writes until this migration commits, so no rename is missed. The membership
# trigger, which would read each user again, is off (for this transaction only: the table stays
# locked) while one join fills every row.
FILL_POSTGRESQL = """
ALTER TABLE usergroups_membership DISABLE TRIGGER usergroups_membership_member_name;
UPDATE usergroups_membership AS membership
    SET member_last_name = member.last_name, member_first_name = member.first_name
    FROM accounts_user AS member WHERE member.id = membership.user_id;
ALTER TABLE usergroups_membership ENABLE TRIGGER usergroups_membership_member_name;
"""
FILL_SQLITE = """
UPDATE usergroups_membership SET
    member_last_name = (SELECT last_name FROM accounts_user WHERE accounts_user.id = usergroups_membership.user_id),
    member_first_name = (SELECT first_name FROM accounts_user WHERE accounts_user.id = usergroups_membership.user_id)
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
    # Elsewhere the copies stay empty and are not read (flows.filters.MEMBER_NAME_VENDORS).


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_DROP)
    elif vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("usergroups", "0004_usergroup_name_key"),
        ("accounts", "0013_import_job_plan"),
    ]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="member_last_name",
            field=models.CharField(blank=True, default="", editable=False, max_length=150),
        ),
        migrations.AddField(
            model_name="membership",
            name="member_first_name",
            field=models.CharField(blank=True, default="", editable=False, max_length=150),
        ),
        migrations.RunPython(create_triggers, drop_triggers),
        migrations.AddIndex(
            model_name="membership",
            index=models.Index(
                fields=["group", "member_last_name", "member_first_name", "user"], name="groups_membership_group_name"
            ),
        ),
    ]
