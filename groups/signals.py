"""Hooks the groups floor sends, for the floors above to react without groups importing them.

group_deleting(sender=UserGroup, group, actor)
    Sent by `groups.services.group_delete` inside its transaction, just before the group is deleted,
    while the grants scoped to it still say who holds them. Receivers: rights tells the people floor
    that the links already sent to those holders are outdated, since their rights shrink
    (rights.receivers; accounts.signals.account_links_outdated).

group_deleted(sender=UserGroup, group)
    Sent by `groups.services.group_delete` inside its transaction, after the group (and its
    memberships) are deleted. Receivers: rights drops the grants that were scoped to that group
    only, which would otherwise look held but reach nobody (rights.receivers).
"""

from django.dispatch import Signal

group_deleting = Signal()
group_deleted = Signal()
