"""Factories and helpers for groups, grants and rights profiles (same organisation throughout)."""

import factory

from accounts.tests.factories import OrganizationFactory, UserGroupFactory  # noqa: F401
from rights.models import Grant, GrantGroup, RightsProfile
from rights.selectors import Scope


class RightsProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RightsProfile

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Profile {n}")


def scope(*groups, everyone=False) -> Scope:
    return Scope(all_users=everyone, group_ids=frozenset(group.pk for group in groups))


def grant(holder, right, *groups, everyone=False) -> Grant:
    """Give `holder` (a user or a profile) `right` over the members of `groups`, or everyone."""
    owner = {"profile": holder} if isinstance(holder, RightsProfile) else {"user": holder}
    made = Grant.objects.create(organization_id=holder.organization_id, right=right, all_users=everyone, **owner)
    GrantGroup.objects.bulk_create(
        GrantGroup(organization_id=holder.organization_id, grant=made, group=group) for group in groups
    )
    return made
