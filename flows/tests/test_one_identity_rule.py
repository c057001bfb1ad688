"""One rule per identity field (accounts.identity): the same typed text gives the same stored value
and the same message on every path that writes a person — the services, the pages' forms, the
import (its rows and columns), the contacts and their conversion into users."""

import csv
import io

import pytest
from django.urls import reverse

from accounts.identity import IdentityInvalid
from accounts.models import Contact, User
from accounts.services import contact_create, contact_update, user_create, user_update
from accounts.tests.factories import ContactFactory, UserFactory
from flows.contacts import contact_convert
from flows.importing import check_rows, read_table
from flows.imports import users_import

pytestmark = pytest.mark.django_db

TYPED = {
    "first_name": "  Ann ",
    "last_name": " Bee  ",
    "email": "  Ann.Bee@Example.COM ",
    "mobile": "06 12 34 56 78",
}
STORED = {
    "first_name": "Ann",
    "last_name": "Bee",
    "email": "ann.bee@example.com",
    "mobile": "+33612345678",
}
LONG = "N" * 151
USERS_ONLY = "a user's"  # a rule of accounts only: a contact has no login ID, channel or employee number
# (what is typed over TYPED, the field refused, its message, whose rule it is).
REFUSED = [
    ({"email": "not-an-email"}, "email", "“not-an-email” is not a valid email address.", None),
    ({"email": "a@" + "b" * 260 + ".com"}, "email", "is not a valid email address.", None),
    ({"mobile": "12"}, "mobile", "“12” is not a valid mobile number.", None),
    ({"mobile": "06 12 34 56 78 90 12 34 56 78 90 12"}, "mobile", "is not a valid mobile number.", None),
    ({"first_name": LONG}, "first_name", "The first name is longer than 150 characters.", None),
    ({"last_name": LONG}, "last_name", "The last name is longer than 150 characters.", None),
    (
        {"email": "", "mobile": ""},
        "email",
        "Give an email address or a mobile number: one of them is the login ID.",
        USERS_ONLY,
    ),
    ({"employee_number": "E" * 51}, "employee_number", "The employee number is longer than 50 characters.", USERS_ONLY),
    ({"mobile": "", "preferred_channel": "sms"}, "preferred_channel", "SMS is the preferred channel", USERS_ONLY),
    ({"email": "", "preferred_channel": "email"}, "preferred_channel", "Email is the preferred channel", USERS_ONLY),
]


def _refusals(call) -> dict:
    try:
        call()
    except IdentityInvalid as invalid:
        return invalid.errors
    return {}


def _form_errors(response) -> dict:
    assert response.status_code == 200, "the form was accepted"
    return {field: list(errors) for field, errors in response.context["form"].errors.items()}


def _user_form(**typed) -> dict:
    data = {"employee_number": "", "preferred_channel": "", "language": "en", "user_type": ""}
    data |= {**TYPED, **typed}
    data["preferred_channel"] = data["preferred_channel"] or "email"
    return data


def _csv(**typed) -> bytes:
    row = {**TYPED, "employee_number": "", "preferred_channel": "", **typed}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(row))
    writer.writeheader()
    writer.writerow(row)
    return out.getvalue().encode()


def _import_check(alice, **typed):
    header, rows = read_table(_csv(**typed))
    return check_rows(organization=alice.organization, actor=alice, header=header, rows=rows)


# Each path: (alice, client, typed) → (the stored person's identity or None, refusals by field).


def path_user_create(alice, client, typed):
    values = {**TYPED, **typed}
    errors = _refusals(lambda: user_create(organization=alice.organization, actor=alice, **values))
    return User.objects.filter(first_name="Ann").first(), errors


def path_user_create_page(alice, client, typed):
    response = client.post(reverse("accounts:user_create"), _user_form(**typed))
    if response.status_code == 302:
        return User.objects.get(pk=response["Location"].rstrip("/").rsplit("/", 1)[-1]), {}
    return None, _form_errors(response)


def path_user_update(alice, client, typed):
    person = UserFactory(organization=alice.organization, email="old@acme.example", first_name="Old")
    values = {**TYPED, "employee_number": "", "preferred_channel": "", "language": "en", "user_type": None, **typed}
    errors = _refusals(lambda: user_update(user=person, actor=alice, **values))
    person.refresh_from_db()
    return (person if not errors else None), errors


def path_user_edit_page(alice, client, typed):
    person = UserFactory(organization=alice.organization, email="old@acme.example", first_name="Old")
    response = client.post(reverse("accounts:user_edit", args=[person.pk]), _user_form(**typed))
    if response.status_code == 302:
        person.refresh_from_db()
        return person, {}
    return None, _form_errors(response)


def path_import(alice, client, typed):
    check = _import_check(alice, **typed)
    [row] = check.rows
    if row.errors:
        errors = {}
        for column, reason in row.errors:
            errors.setdefault(column, []).append(reason)
        return None, errors
    users_import(organization=alice.organization, actor=alice, check=check)
    return User.objects.get(first_name="Ann"), {}


def path_import_update(alice, client, typed):
    person = UserFactory(organization=alice.organization, email="ann.bee@example.com", first_name="Old")
    stored, errors = path_import(alice, client, typed)
    if stored is not None:
        assert stored.pk == person.pk
    return stored, errors


def path_contact_create(alice, client, typed):
    values = {key: value for key, value in {**TYPED, **typed}.items() if key in TYPED}
    errors = _refusals(lambda: contact_create(organization=alice.organization, actor=alice, **values))
    return Contact.objects.filter(first_name="Ann").first(), errors


def path_contact_update(alice, client, typed):
    contact = ContactFactory(organization=alice.organization, email="old@acme.example", first_name="Old")
    values = {key: value for key, value in {**TYPED, **typed}.items() if key in TYPED}
    errors = _refusals(lambda: contact_update(contact=contact, actor=alice, language="en", **values))
    contact.refresh_from_db()
    return (contact if not errors else None), errors


def path_contact_edit_page(alice, client, typed):
    contact = ContactFactory(organization=alice.organization, email="old@acme.example", first_name="Old")
    data = {key: value for key, value in {**TYPED, **typed}.items() if key in TYPED}
    response = client.post(reverse("accounts:contact_edit", args=[contact.pk]), {**data, "language": "en"})
    if response.status_code == 302:
        contact.refresh_from_db()
        return contact, {}
    return None, _form_errors(response)


def path_contact_convert(alice, client, typed):
    """A contact typed in, then made a user: the user keeps exactly what the contact had."""
    contact, errors = path_contact_create(alice, client, typed)
    if errors:
        return None, errors
    user = contact_convert(contact=contact, to=User.Status.CREATED, actor=alice)
    return user, {}


USER_PATHS = {
    "user create": path_user_create,
    "user create page": path_user_create_page,
    "user update": path_user_update,
    "user edit page": path_user_edit_page,
    "import (new user)": path_import,
    "import (update)": path_import_update,
    "contact convert": path_contact_convert,
}
CONTACT_PATHS = {
    "contact create": path_contact_create,
    "contact update": path_contact_update,
    "contact edit page": path_contact_edit_page,
}
PATHS = USER_PATHS | CONTACT_PATHS


@pytest.mark.parametrize("path", PATHS)
def test_the_same_typed_identity_is_stored_the_same_way_on_every_path(path, alice, alice_client):
    stored, errors = PATHS[path](alice, alice_client, {})
    assert errors == {}
    assert {field: getattr(stored, field) for field in STORED} == STORED
    if path in USER_PATHS:
        assert stored.preferred_channel == "email"


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("typed", "field", "message", "rule"), REFUSED, ids=[case[2][:30] for case in REFUSED])
def test_the_same_mistake_gets_the_same_message_next_to_the_same_field_on_every_path(
    path, typed, field, message, rule, alice, alice_client
):
    if rule == USERS_ONLY and path not in USER_PATHS or (rule, path) == (USERS_ONLY, "contact convert"):
        pytest.skip("a contact has no login ID, channel or employee number (converting gives what it stored)")
    if path == "import (update)" and (rule, field) == (USERS_ONLY, "email"):
        pytest.skip("an update row keeps the address a cell leaves blank")
    stored, errors = PATHS[path](alice, alice_client, typed)
    assert stored is None
    assert list(errors) == [field], errors
    [said] = errors[field]
    assert message in said


@pytest.mark.parametrize("path", CONTACT_PATHS)
def test_a_contact_needs_an_address_on_every_path(path, alice, alice_client):
    stored, errors = PATHS[path](alice, alice_client, {"email": "", "mobile": ""})
    assert stored is None
    assert errors == {"email": ["Give an email address or a mobile number."]}
