"""Persona fixtures shared by every test: Alice administers Acme, Bob is a plain Acme user,
Mallory administers Globex (another tenant). Clients talk to a tenant's host, as browsers do."""

import pytest
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.template import Context
from django.template.backends.jinja2 import Template as JinjaTemplate
from django.test import Client
from django.test.signals import template_rendered

from accounts.tests.factories import (
    PASSWORD,
    AdministratorFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    UserGroupFactory,
)
from groups.tests.factories import grant
from rights.names import Right


@pytest.fixture(autouse=True)
def _jinja_context_in_responses(monkeypatch):
    """Django's test client records the context of Django templates only: a page written in Jinja2
    (the people list, the link pages) records its own too, with `messages` as Django's templates
    have it, so that `response.context["users"]` reads the same whichever engine wrote the page."""
    render = JinjaTemplate.render

    def recorded(self, context=None, request=None):
        shown = dict(context or {})
        if request is not None:
            shown.setdefault("messages", get_messages(request))
        template_rendered.send(sender=self, template=self, context=Context(shown))
        return render(self, context, request)

    monkeypatch.setattr(JinjaTemplate, "render", recorded)


@pytest.fixture(autouse=True)
def _clear_cache():
    # Throttle counters live in the cache; each test starts with none (and no counts remembered by
    # the process: each test's database starts its people versions again).
    from accounts.selectors import forget_remembered_counts

    cache.clear()
    forget_remembered_counts()
    yield
    cache.clear()
    forget_remembered_counts()


@pytest.fixture(autouse=True)
def _people_version_at_once_in_test_transactions(request):
    """On PostgreSQL the people version is bumped, and the status counts added up, by triggers at
    commit (accounts.selectors.people_changed, accounts.StatusCount). A test run inside a
    transaction that never commits (`db`) would never see them: there the triggers fire at the end
    of each statement instead, as SQLite's do. Tests with real commits (`transactional_db`) keep the
    commit-time triggers of production."""
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or (
        marker is not None and marker.kwargs.get("transaction")
    )
    if not transactional and ("db" in request.fixturenames or marker is not None):
        request.getfixturevalue("db")
        from django.db import connection

        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SET CONSTRAINTS accounts_people_version_at_commit, accounts_status_counts_at_commit IMMEDIATE"
                )
    yield


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


# Group-scoped personas: Acme has Lyon (Maggie's scope: manage_users and invite) and Paris (out of
# her scope); Ines is in Lyon, Otto in Paris.


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


@pytest.fixture
def password_checks(monkeypatch):
    """The login IDs whose password the login backend checked (it is called through, unchanged).

    A rate limit must stop an attempt before this point: a password hash is what an attacker
    wants us to spend, and what a guess needs.
    """
    import threading

    from accounts.backends import LoginIdBackend

    checked = []
    lock = threading.Lock()
    real = LoginIdBackend.authenticate

    def spy(self, request, username=None, password=None, **kwargs):
        with lock:
            checked.append(username)
        return real(self, request, username=username, password=password, **kwargs)

    monkeypatch.setattr(LoginIdBackend, "authenticate", spy)
    return checked
