"""Persona fixtures shared by every test: Alice administers Acme, Bob is a plain Acme user,
Mallory administers Globex (another tenant). Clients talk to a tenant's host, as browsers do."""

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.tests.factories import PASSWORD, AdministratorFactory, OrganizationFactory, UserFactory


@pytest.fixture(autouse=True)
def _clear_cache():
    # Throttle counters live in the cache; each test starts with none.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _reset_language():
    # A request by a French-speaking user leaves French active in this thread: the next test must
    # not inherit it.
    from django.utils import translation

    yield
    translation.deactivate()


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def acme(db):
    return OrganizationFactory(slug="acme", name="Acme")


@pytest.fixture
def globex(db):
    return OrganizationFactory(slug="globex", name="Globex")


@pytest.fixture
def alice(acme):
    """Administrator of Acme."""
    return AdministratorFactory(organization=acme, email="alice@acme.example", first_name="Alice", last_name="Admin")


@pytest.fixture
def bob(acme):
    """A plain active user of Acme, no rights."""
    return UserFactory(organization=acme, email="bob@acme.example", first_name="Bob", last_name="Plain")


@pytest.fixture
def mallory(globex):
    """Administrator of another organisation."""
    return AdministratorFactory(organization=globex, email="mallory@globex.example", first_name="Mallory")


def tenant_client(organization=None, user=None) -> Client:
    """A test client on the organisation's host (the bare domain when None), logged in as `user`."""
    host = f"{organization.slug}.localhost" if organization else "localhost"
    client = Client(HTTP_HOST=host)
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def make_client():
    return tenant_client


@pytest.fixture
def anon(acme):
    return tenant_client(acme)


@pytest.fixture
def alice_client(alice):
    return tenant_client(alice.organization, alice)


@pytest.fixture
def bob_client(bob):
    return tenant_client(bob.organization, bob)
