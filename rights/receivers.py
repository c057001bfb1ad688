"""How the rights floor reacts to the floors below it (connected in RightsConfig.ready)."""

from .models import Grant
from .services import _profile_holder_ids, _rights_changed


def outdate_links_of_group_rights_holders(sender, group, actor, **kwargs):
    """groups.signals.group_deleting: the rights scoped to this group shrink (or go), so the links
    already sent to their holders must not outlive that. Asked before the group goes, while its
    grants still say who holds them."""
    scoped = Grant.objects.filter(organization_id=group.organization_id, grant_groups__group=group)
    holders = {*scoped.exclude(user=None).values_list("user_id", flat=True)}
    holders |= set(_profile_holder_ids(scoped.exclude(profile=None).values_list("profile_id", flat=True)))
    _rights_changed(user_ids=holders, actor=actor)


def drop_grants_of_deleted_group(sender, group, **kwargs):
    """groups.signals.group_deleted: a grant that was scoped to this group only now reaches nobody;
    drop it rather than keep a grant that looks held but is empty."""
    Grant.objects.filter(organization_id=group.organization_id, all_users=False, grant_groups__isnull=True).delete()
