"""A clash with an existing address or number says only that it is taken; the holder is named (and
linked) only to a viewer who may see them (security review, finding 3)."""

import pytest
from django.urls import reverse

from accounts.tests.factories import ContactFactory, UserFactory
from groups.tests.factories import grant
from rights.names import Right

pytestmark = pytest.mark.django_db
CONVERT = reverse("accounts:contact_convert")


def form_data(lyon, **overrides):
    data = {
        "first_name": "Nina",
        "last_name": "Newcomer",
        "email": "nina@acme.example",
        "mobile": "",
        "employee_number": "",
        "preferred_channel": "email",
        "language": "en",
        "user_type": "",
        "groups": [lyon.pk],
    }
    return data | overrides


@pytest.fixture
def otto_ids(otto):
    otto.mobile, otto.employee_number = "+33612345670", "E-OTTO"
    otto.save()
    return otto


CLASHES = [
    ("email", "OTTO@acme.example", "This email address is already taken."),
    ("mobile", "06 12 34 56 70", "This mobile number is already taken."),
    ("employee_number", "E-OTTO", "This employee number is already taken."),
]


@pytest.mark.parametrize(("field", "value", "message"), CLASHES)
def test_creating_a_user_with_an_out_of_scope_persons_id_names_nobody(
    maggie_client, lyon, otto_ids, field, value, message
):
    response = maggie_client.post(reverse("accounts:user_create"), form_data(lyon, **{field: value}))
    assert response.status_code == 200
    content = response.content.decode()
    assert message in content
    assert "Otto" not in content and "Outscope" not in content
    assert reverse("accounts:user_detail", args=[otto_ids.pk]) not in content


@pytest.mark.parametrize(("field", "value", "message"), CLASHES)
def test_editing_a_user_with_an_out_of_scope_persons_id_names_nobody(
    maggie_client, lyon, ines, otto_ids, field, value, message
):
    data = form_data(lyon, email="ines@acme.example") | {field: value}
    response = maggie_client.post(reverse("accounts:user_edit", args=[ines.pk]), data)
    assert response.status_code == 200
    content = response.content.decode()
    assert message in content
    assert "Otto" not in content and "Outscope" not in content


def test_an_administrator_is_out_of_a_managers_scope_and_is_not_named_either(maggie_client, lyon, alice):
    response = maggie_client.post(reverse("accounts:user_create"), form_data(lyon, email="alice@acme.example"))
    content = response.content.decode()
    assert "This email address is already taken." in content
    assert "Alice" not in content


def test_a_clash_with_someone_in_scope_names_and_links_them(maggie_client, lyon, ines):
    response = maggie_client.post(reverse("accounts:user_create"), form_data(lyon, email="INES@acme.example"))
    content = response.content.decode()
    assert "This email address already belongs to" in content
    assert f'href="{reverse("accounts:user_detail", args=[ines.pk])}"' in content and "Ines Inscope" in content


@pytest.fixture
def wide_manager(acme, make_client):
    """Manages every user (not an administrator): administrators stay out of their scope."""
    user = UserFactory(organization=acme, email="wanda@acme.example", first_name="Wanda", last_name="Wide")
    grant(user, Right.MANAGE_USERS, everyone=True)
    return make_client(acme, user)


def test_converting_a_contact_whose_address_an_out_of_scope_user_holds_names_nobody(wide_manager, acme, alice):
    contact = ContactFactory(organization=acme, first_name="Cora", last_name="Contact", email="alice@acme.example")
    response = wide_manager.post(CONVERT, {"confirmed": "1", "ids": [contact.pk], "to": "created"}, follow=True)
    content = response.content.decode()
    assert "Cora Contact was not converted" in content and "already taken" in content
    assert "Alice" not in content


def test_converting_a_contact_whose_address_a_visible_user_holds_names_them(wide_manager, acme, bob):
    contact = ContactFactory(organization=acme, first_name="Cora", last_name="Contact", email="bob@acme.example")
    response = wide_manager.post(CONVERT, {"confirmed": "1", "ids": [contact.pk], "to": "created"}, follow=True)
    content = response.content.decode()
    assert "Cora Contact was not converted" in content
    assert "Bob Plain" in content and reverse("accounts:user_detail", args=[bob.pk]) in content
