"""User type names ignore case and accents, in the database too: a folded `name_key` column, unique
per organisation, instead of the case-only unique index on LOWER(name)."""

from django.db import migrations, models

from experquiz.naming import fill_name_keys


def fill(apps, schema_editor):
    fill_name_keys(apps.get_model("accounts", "UserType"))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_user_session_generation"),
    ]

    operations = [
        migrations.AddField(
            model_name="usertype",
            name="name_key",
            field=models.CharField(default="", editable=False, max_length=300),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="usertype",
            name="accounts_usertype_unique_name",
        ),
        migrations.AddConstraint(
            model_name="usertype",
            constraint=models.UniqueConstraint(
                fields=("organization", "name_key"), name="accounts_usertype_unique_name_key"
            ),
        ),
    ]
