"""Personas for rights tests, on top of alice (Acme admin), bob (plain Acme user), mallory (Globex admin).

Acme has two groups: Lyon (G, the manager's scope) and Paris (out of the manager's scope).
Maggie manages the users of Lyon only (manage_users and invite), Ines is in Lyon, Otto in Paris.
"""

import pytest

from accounts.rights import Right
from accounts.tests.factories import MembershipFactory, UserFactory, UserGroupFactory
from groups.tests.factories import grant


@pytest.fixture
def lyon(acme):
    return UserGroupFactory(organization=acme, name="Lyon")


@pytest.fixture
def paris(acme):
    return UserGroupFactory(organization=acme, name="Paris")


@pytest.fixture
def maggie(acme, lyon):
    """Manages (and invites) the users of Lyon only."""
    user = UserFactory(organization=acme, email="maggie@acme.example", first_name="Maggie", last_name="Manager")
    grant(user, Right.MANAGE_USERS, lyon)
    grant(user, Right.INVITE, lyon)
    return user


@pytest.fixture
def ines(acme, lyon):
    user = UserFactory(organization=acme, email="ines@acme.example", first_name="Ines", last_name="Inscope")
    MembershipFactory(group=lyon, user=user)
    return user


@pytest.fixture
def otto(acme, paris):
    user = UserFactory(organization=acme, email="otto@acme.example", first_name="Otto", last_name="Outscope")
    MembershipFactory(group=paris, user=user)
    return user


@pytest.fixture
def maggie_client(maggie, make_client):
    return make_client(maggie.organization, maggie)


@pytest.fixture
def mallory_client(mallory, make_client):
    return make_client(mallory.organization, mallory)
