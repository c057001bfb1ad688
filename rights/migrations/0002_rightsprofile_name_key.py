"""Rights profile names ignore case and accents, in the database too (experquiz.naming): a folded
`name_key` column, unique per organisation, instead of the case-only unique index on LOWER(name)."""

from django.db import migrations

from experquiz.naming import name_key_operations


class Migration(migrations.Migration):
    dependencies = [("rights", "0001_move_grants_and_profiles_from_groups")]

    operations = name_key_operations(
        "rights",
        "RightsProfile",
        old_constraint="groups_rightsprofile_unique_name",
        new_constraint="rights_rightsprofile_unique_name_key",
    )
