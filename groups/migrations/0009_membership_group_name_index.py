"""The index on (group, the member's name, user) again, holding the member's search text and now
their type (migration 0008). It is built once the fill of migration 0008 has committed, so that it
holds only the memberships' new versions, not those the fill replaced."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("usergroups", "0008_membership_member_type"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="membership",
            index=models.Index(
                fields=["group", "member_last_name", "member_first_name", "user"],
                include=["member_search_text", "member_type_id"],
                name="groups_membership_group_name",
            ),
        ),
    ]
