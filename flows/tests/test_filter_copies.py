"""Each UserFilter has its own filters (flows.filters._own_copy): one person's menus, querysets and
methods never reach another's list, and the class's filters stay as declared."""

import pytest
from django.http import QueryDict

from flows.filters import UserFilter
from rights.names import Right
from rights.selectors import users_in_scope

pytestmark = pytest.mark.django_db


def filterset(actor, query=""):
    return UserFilter(QueryDict(query), queryset=users_in_scope(actor, Right.MANAGE_USERS), actor=actor)


def test_two_people_lists_do_not_share_their_group_menus(alice, maggie, lyon, paris):
    everyone, lyon_only = filterset(alice), filterset(maggie)
    assert [name for _pk, name in lyon_only.form.fields["group"].choices_list()] == ["Lyon"]
    assert [name for _pk, name in everyone.form.fields["group"].choices_list()] == ["Lyon", "Paris"]
    # Maggie cannot choose a group out of her scope, Alice can, whichever list was made first.
    assert not filterset(maggie, f"group={paris.pk}").is_valid()
    assert filterset(alice, f"group={paris.pk}").is_valid()
    assert not filterset(maggie, f"group={paris.pk}").is_valid()


def test_the_methods_are_the_instances_and_the_class_filters_stay_unbuilt(alice, bob, lyon):
    first = filterset(alice, "q=bob&status=active")
    assert first.is_valid()
    assert list(first.qs) == [bob]
    second = filterset(alice, "q=alice")
    assert second.is_valid()
    assert list(second.qs) == [alice]
    for name, filter_ in UserFilter.base_filters.items():
        assert not hasattr(filter_, "_field"), name
        own = first.filters[name]
        assert own is not filter_ and own.parent is first and own.extra is not filter_.extra
        if own.method is not None:
            assert own.filter.f is own
