"""Every form of the product, as rendered, with a NUL byte typed into each of its fields.

PostgreSQL refuses NUL in text (a 500 if the value gets that far) and SQLite stores it silently,
so a form that lets it through is found on either database. The pages come from the URL resolver
and the forms from the rendered HTML, so a page or a field added later is covered without anyone
remembering to add it here.
"""

import html
from urllib.parse import urljoin, urlsplit

import pytest
from django.test import Client
from django.urls import resolve

from .access import ACCESS, IN_SCOPE, PUBLIC, World
from .forms import page_forms
from .test_access_matrix import URLS, client_for, content, places_of, snapshot, urls_for

NUL = "Ann\x00Bee"
# Django's own message (ProhibitNullCharactersValidator), translated like every other.
NUL_MESSAGE = "Null characters are not allowed."
LAYOUT_FORMS = {"set_language", "accounts:logout"}


def stored_nul(state) -> list[str]:
    """Rows of the project's models holding a NUL anywhere (JSON included)."""
    found = []
    for label, rows in state.items():
        for row in rows:
            if "\x00" in repr(row) or "\\x00" in repr(row):
                found.append(f"{label} #{row.get('id')}")
    return found


def page_urls(world, name, route, kwargs):
    access = ACCESS[name]
    if access.post_only:
        return []
    place = None if places_of(access, kwargs) == (None,) else IN_SCOPE
    return list(urls_for(world, name, access, kwargs, place))


def submit(client, form, page_url, data):
    target = urljoin(page_url, form.action) if form.action else page_url
    if form.method == "post":
        return target, client.post(target, data, follow=True)
    return target, client.get(target, data, follow=True)


def check_form(world, actor, page_url, form, field, *, typed):
    client = client_for(world, actor)
    client.raise_request_exception = False
    where = f"{actor} {form.method.upper()} {form.action or page_url} (form of {page_url}), field {field!r}"
    target, response = submit(client, form, page_url, form.data(**{field: NUL}))
    failures = []
    if response.status_code >= 500:
        failures.append(f"{where}: {response.status_code}")
    leaked = stored_nul(snapshot())
    if leaked:
        failures.append(f"{where}: a NUL was stored in {leaked}")
    # A field a person types into gets the message next to it.
    typed_in = typed and form.method == "post" and response.status_code < 500
    if typed_in and NUL_MESSAGE not in html.unescape(content(response)):
        failures.append(f"{where}: no '{NUL_MESSAGE}' message on the page answered ({response.status_code})")
    return failures


@pytest.mark.django_db
@pytest.mark.parametrize("name, route, kwargs", [u[:3] for u in URLS if u[0] in ACCESS], ids=lambda v: v)
def test_a_nul_byte_in_any_field_of_any_form_is_a_clear_message_never_a_500(name, route, kwargs):
    world = World()
    actor = "anonymous" if ACCESS[name].gate == PUBLIC else "admin_a"
    failures, seen = [], set()
    for url in page_urls(world, name, route, kwargs):
        response = client_for(world, actor).get(url)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        for form in page_forms(content(response)):
            target = urlsplit(urljoin(url, form.action) if form.action else url).path
            # The layout's forms are on every page: checked once, on the personal page.
            if resolve(target).view_name in LAYOUT_FORMS and name != "accounts:me":
                continue
            key = (target, form.method, tuple(f.name for f in form.fields))
            if key in seen:
                continue
            seen.add(key)
            for field in form.text_fields:
                failures += check_form(world, actor, url, form, field, typed=True)
            for field in form.hidden_fields:
                failures += check_form(world, actor, url, form, field, typed=False)
    assert not failures, "\n".join(failures)


@pytest.mark.django_db
def test_the_form_walk_finds_the_status_reason_and_the_paste_box(alice):
    """The walk above is only as good as the forms it finds: it must see free-text fields."""
    from accounts.tests.factories import UserFactory

    person = UserFactory(organization=alice.organization)
    client = Client(HTTP_HOST="acme.localhost")
    client.force_login(alice)
    page = client.get(f"/users/{person.pk}/status/inactive/")
    [form] = [f for f in page_forms(content(page)) if "reason" in f.text_fields]
    assert form.method == "post"
    page = client.get("/invitations/paste/")
    assert any("addresses" in f.text_fields for f in page_forms(content(page)))
