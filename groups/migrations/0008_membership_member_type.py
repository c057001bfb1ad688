"""Each membership also carries its member's user type (`member_type_id`), kept equal to the user's by
the triggers that copy the name and the search text (migrations 0005 and 0006; replaced in 0009), and
the index on (group, the name, user) holds it (`INCLUDE` on PostgreSQL; built again in 0010): the
people list filtered by a group and a type checks each member's type in that index, in name order,
and reads from the users table only the members of that type. With a search too, a group of a
1,000,000-person organisation had 961 members whose text matched, each then read from the users
table to check the rest; of those, 300 were of the chosen type.

This migration changes the table only: the column, a default in the database for the copied texts
(SQLite's triggers copy after the insert, and refused a membership written by raw SQL without them as
NOT NULL), and the index, dropped. Each of these locks the memberships against reads too, but only
for this short transaction; the long fill (0009) lets them be read.
"""
from importlib import import_module

from django.db import migrations, models

PREVIOUS = import_module("groups.migrations.0006_membership_member_search_text")


def restore_previous_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in PREVIOUS.SQLITE:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("usergroups", "0007_membership_user_group_index"),
    ]

    operations = [
        # SQLite changes a column's default by rebuilding the table (the AlterFields below), which a
        # trigger naming its columns refuses: the triggers go first (migration 0006's function, same
        # names); migration 0009 creates the new ones.
        migrations.RunPython(PREVIOUS.drop_sqlite_triggers, restore_previous_sqlite_triggers),
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
        # The old index goes here, in a short transaction (dropping an index locks its table against
        # reads too): the fill of migration 0009 does not keep it up to date for nothing.
        migrations.RemoveIndex(model_name="membership", name="groups_membership_group_name"),
    ]
