"""Hooks the groups floor sends, for the floors above to react without groups importing them.

group_deleted(sender=UserGroup, group)
    Sent by `groups.services.group_delete` inside its transaction, after the group (and its
    memberships) are deleted. Receivers: rights drops the grants that were scoped to that group
    only, which would otherwise look held but reach nobody (rights.receivers).
"""

from django.dispatch import Signal

group_deleted = Signal()
