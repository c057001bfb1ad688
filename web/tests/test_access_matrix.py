"""The access matrix: every URL pattern of the tenant URLconf × every actor × objects in scope, out
of scope and of another tenant. The patterns come from the URL resolver, so a page added later is
in the matrix whether or not its author remembered it: until it is registered in
web/tests/access.py, test_every_url_is_registered (and its own matrix test) fail and say how.
"""

import html
import io
import itertools
import zipfile

import pytest
from django.apps import apps
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from rights.mixins import RightRequiredMixin

from .access import (
    ACCESS,
    ACTORS,
    KWARG_KINDS,
    LOGGED_IN,
    OBJECT_MAKERS,
    PLACES,
    PUBLIC,
    VALUE_KINDS,
    World,
    actor_org,
    expected_status,
    forbidden_strings,
)

REGISTRY = "web/tests/access.py"


def walk(patterns, namespace="", route=""):
    """(name or None, route, kwarg names, callback) of every pattern, recursively."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from walk(pattern.url_patterns, inner, route + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}{pattern.name}" if pattern.name else None
            kwargs = list(getattr(pattern.pattern, "converters", {}) or pattern.pattern.regex.groupindex)
            yield name, route + str(pattern.pattern), kwargs, pattern.callback


URLS = list(walk(get_resolver(settings.ROOT_URLCONF).url_patterns))


def registration_problems(name, route, kwargs):
    if name is None:
        return [f"The URL pattern '{route}' has no name: name it, then register it in ACCESS in {REGISTRY}."]
    if name not in ACCESS:
        return [
            f"The URL '{name}' ({route}) is not in the access matrix: add one line to ACCESS in {REGISTRY}, "
            f'e.g. "{name}": Access(Right.MANAGE_USERS, kinds={{"pk": "user"}}),'
        ]
    problems = []
    for kwarg in kwargs:
        kind = ACCESS[name].kinds.get(kwarg) or KWARG_KINDS.get(kwarg)
        if kind is None:
            problems.append(
                f"The URL kwarg '{kwarg}' of '{name}' ({route}) names no known object: add it to KWARG_KINDS "
                f'in {REGISTRY} (e.g. "{kwarg}": "user") or give the line kinds={{"{kwarg}": "..."}}.'
            )
        elif kind not in OBJECT_MAKERS and kind not in VALUE_KINDS:
            problems.append(
                f"No object maker for kind '{kind}' (URL '{name}'): add one to OBJECT_MAKERS in {REGISTRY}."
            )
    return problems


def test_every_url_is_registered():
    problems = [problem for name, route, kwargs, _ in URLS for problem in registration_problems(name, route, kwargs)]
    assert not problems, "\n".join(problems)


def test_the_registry_names_no_url_that_does_not_exist():
    names = {name for name, *_ in URLS}
    assert set(ACCESS) <= names, f"Stale lines in ACCESS ({REGISTRY}): {sorted(set(ACCESS) - names)}"


def view_gate(callback):
    """The right a view checks, read from the one gate (right_required / RightRequiredMixin)."""
    view_class = getattr(callback, "view_class", None)
    if view_class is not None and issubclass(view_class, RightRequiredMixin):
        return view_class.required_right
    if hasattr(callback, "required_right"):
        return callback.required_right
    if getattr(callback, "login_required", True) is False:
        return PUBLIC
    return LOGGED_IN


@pytest.mark.parametrize("name, route, kwargs, callback", [u for u in URLS if u[0] in ACCESS], ids=lambda v: v)
def test_the_view_checks_the_gate_the_matrix_expects(name, route, kwargs, callback):
    """Fail closed: the table and the code must agree, so a view that forgot its gate is caught."""
    assert view_gate(callback) == ACCESS[name].gate, (
        f"'{name}' is registered with gate {ACCESS[name].gate!r} but its view checks {view_gate(callback)!r}: "
        "put the view behind rights.mixins.RightRequiredMixin / right_required, or fix the registry."
    )


def kind_of(access, kwarg):
    return access.kinds.get(kwarg) or KWARG_KINDS[kwarg]


def places_of(access, kwargs):
    """Objects from every place when the URL names an object; one run when it names none."""
    return PLACES if any(kind_of(access, kwarg) not in VALUE_KINDS for kwarg in kwargs) else (None,)


def urls_for(world, name, access, kwargs, place):
    """The URLs of one cell: the objects of `place`, with each combination of plain values."""
    objects, choices = {}, {}
    for kwarg in kwargs:
        kind = kind_of(access, kwarg)
        if kind in VALUE_KINDS:
            choices[kwarg] = VALUE_KINDS[kind]
        else:
            made = OBJECT_MAKERS[kind](world, place)
            objects[kwarg] = getattr(made, "pk", made)
    for combination in itertools.product(*choices.values()):
        yield reverse(name, kwargs={**objects, **dict(zip(choices, combination, strict=True))})


def client_for(world, actor):
    if actor == "anonymous":
        return Client(HTTP_HOST="acme.localhost")
    user = world.actors["admin_b" if actor == "admin_b_on_a" else actor]
    host = "acme.localhost" if actor == "admin_b_on_a" else f"{actor_org(world, actor).slug}.localhost"
    client = Client(HTTP_HOST=host)
    client.force_login(user)
    return client


def content(response) -> str:
    """The response's text; for a zip (an .xlsx export) the text of every file inside, so a leak in
    a spreadsheet is found like a leak in a page."""
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    if raw.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            raw = b"\n".join(archive.read(member) for member in archive.namelist())
    return html.unescape(raw.decode("utf-8", errors="replace"))


def snapshot():
    """Every row of the project's own models: a refused request must leave it unchanged."""
    state = {}
    for model in apps.get_models():
        if model._meta.app_label in {"accounts", "usergroups", "rights", "invitations", "assessments", "audit"}:
            state[model._meta.label] = list(model.objects.order_by("pk").values())
    return state


def check_cell(access, actor, place, url, forbidden, world):
    failures = []
    expected = expected_status(access, actor, place)
    # A fresh client per request: a rejected session (another tenant's) must not turn the
    # rest of the row into anonymous requests.
    response = client_for(world, actor).get(url)
    cell = f"{actor} GET {url} ({place or 'no object'})"
    # Anonymous users and another tenant's session never reach the view: the login page does.
    sent_to_login = actor == "admin_b_on_a" or (actor == "anonymous" and access.gate != PUBLIC)
    refused = sent_to_login or (expected in (302, 403, 404) and expected != access.ok)
    if access.post_only and not sent_to_login:
        # Only POST acts: a GET is refused with 405, or with the refusal the POST would get.
        allowed = {405} if expected == access.ok else {405, expected}
        if response.status_code not in allowed:
            failures.append(f"{cell}: expected {' or '.join(map(str, sorted(allowed)))}, got {response.status_code}")
    elif response.status_code != expected:
        failures.append(f"{cell}: expected {expected}, got {response.status_code}")
    body = content(response)
    leaked = [s for s in forbidden if s in body]
    if leaked:
        failures.append(f"{cell}: shows out-of-scope people {leaked}")
    if access.post and (refused or access.post_only):
        client = client_for(world, actor)
        before = snapshot()
        response = client.post(url, {})
        if response.status_code != expected:
            failures.append(f"{actor} POST {url} ({place}): expected {expected}, got {response.status_code}")
        if refused and snapshot() != before:
            failures.append(f"{actor} POST {url} ({place}): a refused request changed data")
        body = content(response)
        leaked = [s for s in forbidden if s in body]
        if leaked:
            failures.append(f"{actor} POST {url} ({place}): shows out-of-scope people {leaked}")
    if access.data and not refused:
        response = client_for(world, actor).post(url, access.data(world), follow=True)
        if response.status_code >= 500:
            failures.append(f"{actor} POST {url} ({place}) with data: got {response.status_code}")
        leaked = [s for s in forbidden if s in content(response)]
        if leaked:
            failures.append(f"{actor} POST {url} ({place}) with data: shows out-of-scope people {leaked}")
    return failures


@pytest.mark.django_db
@pytest.mark.parametrize("name, route, kwargs", [u[:3] for u in URLS], ids=lambda v: v if isinstance(v, str) else "")
def test_access_matrix(name, route, kwargs):
    problems = registration_problems(name, route, kwargs)
    assert not problems, "\n".join(problems)
    access = ACCESS[name]
    world = World()
    failures = []
    for actor in ACTORS:
        forbidden = forbidden_strings(world, actor)
        for place in places_of(access, kwargs):
            for url in urls_for(world, name, access, kwargs, place):
                failures += check_cell(access, actor, place, url, forbidden, world)
    assert not failures, "\n".join(failures)


def test_an_unregistered_page_or_kwarg_fails_with_instructions():
    [problem] = registration_problems("contacts:export", "contacts/export/", [])
    assert "add one line to ACCESS" in problem and REGISTRY in problem
    [problem] = registration_problems("groups:detail", "groups/<int:widget_id>/", ["widget_id"])
    assert "add it to KWARG_KINDS" in problem
    [problem] = registration_problems(None, "secret/", [])
    assert "has no name" in problem


JUNK_QUERY = {
    "page": ["-1", "9999999999999999999999", "x"],
    "q": ["\x00", "' OR 1=1 --", "é" * 300],
    "status": ["nonsense"],
    "group": ["abc", "-1", "99999999999999999999"],
    "cols": ["x", "1.5", "99999999999999999999999"],
    "users": ["abc", "-1", "99999999999999999999", "²"],
    "ids": ["²", "-1", "99999999999999999999"],
    "action": ["add_to_group", "nonsense", "delete"],
    "sort": ["-password"],
    "next": ["https://evil.example/"],
}


@pytest.mark.django_db
@pytest.mark.parametrize("name, route, kwargs", [u[:3] for u in URLS if u[0] in ACCESS], ids=lambda v: v)
def test_junk_in_query_strings_and_forms_is_never_a_server_error(name, route, kwargs):
    """Tampered ids, other tenants' ids and garbage: a 4xx, a redirect or a form error, never a 500."""
    access = ACCESS[name]
    world = World()
    for actor in ("admin_a", "manager_a"):
        for place in places_of(access, kwargs):
            client = client_for(world, actor)
            client.raise_request_exception = False
            if route.count("<int:"):
                huge = reverse(name, kwargs=dict.fromkeys(kwargs, 10**20))
                assert client.get(huge).status_code in (302, 403, 404, 405), f"{actor} GET {huge}"
                assert client.post(huge).status_code in (302, 403, 404, 405), f"{actor} POST {huge}"
            for url in urls_for(world, name, access, kwargs, place):
                # One value of each parameter per round (a page reads the last one), then all at once.
                rounds = [{key: values[i % len(values)] for key, values in JUNK_QUERY.items()} for i in range(3)]
                for query in [*rounds, JUNK_QUERY]:
                    assert client.get(url, query).status_code < 500, f"{actor} GET {url} with {query}"
                    if access.post:
                        assert client.post(url, query).status_code < 500, f"{actor} POST {url} with {query}"


def test_leaks_are_found_in_spreadsheets_and_escaped_html_too():
    from django.http import HttpResponse
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active["A1"] = "Otto Outscopeparis"
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert "Otto Outscopeparis" in content(HttpResponse(buffer.getvalue()))
    assert "O'Hara" in content(HttpResponse("O&#x27;Hara"))
