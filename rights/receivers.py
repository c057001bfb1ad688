"""How the rights floor reacts to the floors below it (connected in RightsConfig.ready)."""

from .models import Grant


def drop_grants_of_deleted_group(sender, group, **kwargs):
    """groups.signals.group_deleted: a grant that was scoped to this group only now reaches nobody;
    drop it rather than keep a grant that looks held but is empty."""
    Grant.objects.filter(organization_id=group.organization_id, all_users=False, grant_groups__isnull=True).delete()
