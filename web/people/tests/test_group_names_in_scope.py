"""A group-scoped manager sees only the groups of their scope wherever a user's groups are listed:
the users list, a user's page and the exports (security review, finding 12). Administrators and
organisation-wide holders see every group."""

import io
import zipfile

import pytest
from django.urls import reverse

from accounts.tests.factories import MembershipFactory, UserFactory
from groups.tests.factories import grant
from rights.names import Right

pytestmark = pytest.mark.django_db


@pytest.fixture
def both(ines, paris):
    """Ines is in Lyon (Maggie's scope) and in Paris (out of it)."""
    MembershipFactory(group=paris, user=ines)
    return ines


def text(response) -> str:
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    if raw.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            raw = b"\n".join(archive.read(member) for member in archive.namelist())
    return raw.decode()


def pages(person):
    return [
        reverse("accounts:user_list"),
        reverse("accounts:user_detail", args=[person.pk]),
        reverse("accounts:user_export", args=["csv"]),
        reverse("accounts:user_export", args=["xlsx"]),
    ]


def test_a_group_scoped_manager_sees_only_the_groups_of_their_scope(maggie_client, both):
    for url in pages(both):
        body = text(maggie_client.get(url))
        assert "Lyon" in body, url
        assert "Paris" not in body, url


def test_an_administrator_sees_every_group(alice_client, both):
    for url in pages(both):
        body = text(alice_client.get(url))
        assert "Lyon" in body and "Paris" in body, url


def test_an_organisation_wide_manager_sees_every_group(acme, both, make_client):
    wanda = UserFactory(organization=acme, first_name="Wanda", last_name="Wide")
    grant(wanda, Right.MANAGE_USERS, everyone=True)
    client = make_client(acme, wanda)
    for url in pages(both):
        body = text(client.get(url))
        assert "Lyon" in body and "Paris" in body, url
