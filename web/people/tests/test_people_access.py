"""Every people page is behind the rights gate, and another tenant's ids are a 404 on each of them."""

import pytest
from django.urls import get_resolver, reverse

from accounts.models import BulkJob, ImportJob
from accounts.tests.factories import ContactFactory, UserTypeFactory
from rights.mixins import RightRequiredMixin

pytestmark = pytest.mark.django_db
PUBLIC_OR_PERSONAL = {"login", "logout", "password_change", "me"}
EXTRA_KWARGS = {"to": "inactive", "fmt": "csv"}


def people_patterns():
    resolver = get_resolver()
    (accounts,) = [p for p in resolver.url_patterns if getattr(p, "namespace", None) == "accounts"]
    return [p for p in accounts.url_patterns if p.name not in PUBLIC_OR_PERSONAL]


def foreign_ids(mallory):
    org = mallory.organization
    return {
        "user": mallory.pk,
        "contact": ContactFactory(organization=org).pk,
        "user_type": UserTypeFactory(organization=org).pk,
        "user_import": ImportJob.objects.create(organization=org, created_by=mallory, filename="x", data=b"").pk,
        "user_bulk": BulkJob.objects.create(organization=org, created_by=mallory, action="delete").pk,
    }


def url_for(pattern, ids):
    kwargs = {name: value for name, value in EXTRA_KWARGS.items() if f"<str:{name}>" in str(pattern.pattern)}
    if "<int:pk>" in str(pattern.pattern):
        kind = next(
            k for k in ("user_type", "user_import", "user_bulk", "contact", "user") if pattern.name.startswith(k)
        )
        kwargs["pk"] = ids[kind]
    return reverse(f"accounts:{pattern.name}", kwargs=kwargs)


def test_every_people_view_goes_through_the_rights_gate():
    for pattern in people_patterns():
        view = pattern.callback
        view_class = getattr(view, "view_class", None)
        assert (view_class and issubclass(view_class, RightRequiredMixin)) or hasattr(view, "required_right"), (
            pattern.name
        )


def test_another_tenants_ids_are_404_everywhere(alice_client, mallory):
    ids = foreign_ids(mallory)
    checked = 0
    for pattern in people_patterns():
        if "<int:pk>" not in str(pattern.pattern):
            continue
        url = url_for(pattern, ids)
        assert alice_client.get(url).status_code in (404, 405), url
        assert alice_client.post(url).status_code in (404, 405), url
        checked += 1
    assert checked >= 10


def test_plain_users_get_403_and_visitors_are_sent_to_log_in(bob_client, anon, mallory):
    ids = foreign_ids(mallory)
    for pattern in people_patterns():
        url = url_for(pattern, ids)
        assert bob_client.get(url).status_code in (403, 405), url
        response = anon.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url
