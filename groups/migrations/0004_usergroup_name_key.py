"""Group names ignore case and accents, in the database too: a folded `name_key` column, unique per
organisation, instead of the case-only unique index on LOWER(name)."""

from django.db import migrations, models

from experquiz.naming import fill_name_keys


def fill(apps, schema_editor):
    fill_name_keys(apps.get_model("usergroups", "UserGroup"))


class Migration(migrations.Migration):
    dependencies = [
        ("usergroups", "0003_grants_and_profiles_move_to_rights"),
    ]

    operations = [
        migrations.AddField(
            model_name="usergroup",
            name="name_key",
            field=models.CharField(default="", editable=False, max_length=300),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="usergroup",
            name="groups_usergroup_unique_name",
        ),
        migrations.AddConstraint(
            model_name="usergroup",
            constraint=models.UniqueConstraint(
                fields=("organization", "name_key"), name="groups_usergroup_unique_name_key"
            ),
        ),
    ]
