"""Contacts: the filters keep what was chosen, and contacts can be created one by one or imported."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from accounts.models import Contact
from accounts.tests.factories import ContactFactory
from audit.models import Action, AuditEvent

pytestmark = pytest.mark.django_db
LIST = reverse("accounts:contact_list")
NEW = reverse("accounts:contact_create")
IMPORT = reverse("accounts:contact_import")


@pytest.mark.parametrize("field", ["has_email", "has_mobile", "converted"])
@pytest.mark.parametrize("value", ["true", "false"])
def test_the_filters_keep_their_chosen_value_after_filtering(alice_client, field, value):
    page = alice_client.get(LIST, {field: value}).content.decode()
    menu = page.split(f'name="{field}"')[1].split("</select>")[0]
    assert f'<option value="{value}" selected>' in menu
    assert '<option value="" selected>' not in menu
    # The other menus stay at "Either".
    for other in {"has_email", "has_mobile", "converted"} - {field}:
        assert '<option value="" selected>' in page.split(f'name="{other}"')[1].split("</select>")[0]


def test_the_contacts_list_offers_to_clear_its_filters(alice_client):
    page = alice_client.get(LIST, {"has_email": "true"}).content.decode()
    assert f'href="{LIST}">Clear filters</a>' in page


def test_an_administrator_creates_a_contact(alice_client, alice):
    assert alice_client.get(NEW).status_code == 200
    response = alice_client.post(
        NEW, {"first_name": "Cleo", "last_name": "Doe", "email": "Cleo@Example.org", "mobile": "", "language": "fr"}
    )
    assert response.status_code == 302
    contact = Contact.objects.get(email="cleo@example.org")
    assert (contact.first_name, contact.language, contact.created_by) == ("Cleo", "fr", alice)
    assert AuditEvent.objects.filter(action=Action.CONTACT_CREATED, target_id=contact.pk).exists()


def test_a_contact_needs_an_address_and_nothing_is_half_made(alice_client):
    response = alice_client.post(
        NEW, {"first_name": "No", "last_name": "Way", "email": "", "mobile": "", "language": "en"}
    )
    assert response.status_code == 200 and "is-invalid" in response.content.decode()
    assert not Contact.objects.exists()


CSV = (
    "Prénom;Nom;E-mail;Mobile;Langue\n"
    "Ann;Bee;ann@example.org;;fr\n"
    "Bob;Carter;;07 56 12 34 56;en\n"
    "Known;One;known@example.org;;\n"
    "Bad;Row;not-an-address;;\n"
)


def upload(client, content, name="contacts.csv"):
    return client.post(IMPORT, {"file": SimpleUploadedFile(name, content)})


def test_importing_contacts_shows_each_row_then_creates_them_once_confirmed(alice_client, acme):
    ContactFactory(organization=acme, email="known@example.org")
    response = upload(alice_client, CSV.encode())
    page = response.content.decode()
    assert response.status_code == 200
    assert "ann@example.org" in page and "07 56 12 34 56" in page
    assert "already a contact" in page and "not-an-address" in page
    assert Contact.objects.count() == 1
    confirm = {"rows": response.context["rows_json"], "confirmed": "1"}
    response = alice_client.post(IMPORT, confirm, follow=True)
    assert "2 contacts imported" in response.content.decode()
    assert Contact.objects.get(email="ann@example.org").language == "fr"
    assert Contact.objects.get(mobile="+33756123456").first_name == "Bob"
    assert Contact.objects.count() == 3
    assert AuditEvent.objects.filter(action=Action.CONTACT_CREATED).count() == 2


def test_importing_contacts_reads_xlsx_too(alice_client):
    book = Workbook()
    book.active.append(["first_name", "last_name", "email"])
    book.active.append(["Xia", "Lee", "xia@example.org"])
    data = io.BytesIO()
    book.save(data)
    response = upload(alice_client, data.getvalue(), "contacts.xlsx")
    assert "xia@example.org" in response.content.decode()


def test_an_unusable_file_says_why(alice_client):
    page = upload(alice_client, b"name;notes\nx;y\n").content.decode()
    assert "Missing column" in page
    assert not Contact.objects.exists()


def test_a_tampered_confirmation_is_checked_again(alice_client):
    rows = '[{"first_name": "Eve", "email": "not-an-address"}]'
    response = alice_client.post(IMPORT, {"rows": rows, "confirmed": "1"}, follow=True)
    assert not Contact.objects.exists()
    assert response.status_code == 200


def test_a_group_scoped_manager_neither_creates_nor_imports_contacts(maggie_client):
    assert maggie_client.get(NEW).status_code in (403, 404)
    assert maggie_client.get(IMPORT).status_code in (403, 404)
