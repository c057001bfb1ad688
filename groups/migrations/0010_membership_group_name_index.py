"""The index on (group, the member's name, user) again, holding the member's search text and now
their type (migrations 0008 and 0009). It is built once the fill of migration 0009 has committed, so
that it holds only the memberships' new versions, not those the fill replaced, unless a transaction
older than that commit is still open (built in the fill's transaction, it held both: twice the size
at 1,500,000 memberships)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("usergroups", "0009_membership_member_type_copies"),
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
