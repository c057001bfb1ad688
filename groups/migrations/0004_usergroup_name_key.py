"""Group names ignore case and accents, in the database too (experquiz.naming): a folded `name_key`
column, unique per organisation, instead of the case-only unique index on LOWER(name)."""

from django.db import migrations

from experquiz.naming import name_key_operations


class Migration(migrations.Migration):
    dependencies = [("usergroups", "0003_grants_and_profiles_move_to_rights")]

    operations = name_key_operations(
        "usergroups",
        "UserGroup",
        old_constraint="groups_usergroup_unique_name",
        new_constraint="groups_usergroup_unique_name_key",
    )
