"""Rights profile names ignore case and accents, in the database too: a folded `name_key` column,
unique per organisation, instead of the case-only unique index on LOWER(name)."""

from django.db import migrations, models

from experquiz.naming import fill_name_keys


def fill(apps, schema_editor):
    fill_name_keys(apps.get_model("rights", "RightsProfile"))


class Migration(migrations.Migration):
    dependencies = [
        ("rights", "0001_move_grants_and_profiles_from_groups"),
    ]

    operations = [
        migrations.AddField(
            model_name="rightsprofile",
            name="name_key",
            field=models.CharField(default="", editable=False, max_length=300),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="rightsprofile",
            name="groups_rightsprofile_unique_name",
        ),
        migrations.AddConstraint(
            model_name="rightsprofile",
            constraint=models.UniqueConstraint(
                fields=("organization", "name_key"), name="rights_rightsprofile_unique_name_key"
            ),
        ),
    ]
