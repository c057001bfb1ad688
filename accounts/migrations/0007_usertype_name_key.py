"""User type names ignore case and accents, in the database too (experquiz.naming): a folded
`name_key` column, unique per organisation, instead of the case-only unique index on LOWER(name)."""

from django.db import migrations

from experquiz.naming import name_key_operations


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_user_session_generation")]

    operations = name_key_operations(
        "accounts",
        "UserType",
        old_constraint="accounts_usertype_unique_name",
        new_constraint="accounts_usertype_unique_name_key",
    )
