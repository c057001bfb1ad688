"""French wherever a French speaker looks: the language they pick is theirs, token pages speak the
recipient's language, user types and dates follow the locale."""

import re
from datetime import datetime

import pytest
from django.core import mail
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import User
from accounts.services import user_change_status
from accounts.tests.factories import UserFactory
from invitations.services import account
from invitations.tests.helpers import last_token

pytestmark = pytest.mark.django_db


def french(client):
    client.cookies["django_language"] = "fr"
    return client


def test_the_language_picked_in_the_menu_is_kept_for_the_next_login(bob_client, anon, bob, password):
    response = bob_client.post(reverse("set_language"), {"language": "fr", "next": "/me/"})
    assert response.status_code == 302 and response.cookies["django_language"].value == "fr"
    bob.refresh_from_db()
    assert bob.language == "fr"
    response = anon.post(reverse("accounts:login"), {"username": bob.email, "password": password})
    assert response.cookies["django_language"].value == "fr"


def test_picking_a_language_signed_out_changes_no_account(anon, bob):
    anon.post(reverse("set_language"), {"language": "fr", "next": "/login/"})
    bob.refresh_from_db()
    assert bob.language == "en"


def test_the_menu_names_each_language_in_itself(anon):
    page = french(anon).get(reverse("accounts:login")).content.decode()
    assert '<option value="fr" selected lang="fr">Français</option>' in page
    assert '<option value="en" lang="en">English</option>' in page


def test_an_invitee_written_to_in_french_gets_the_finish_your_account_page_in_french(anon, alice, acme, deliver):
    carol = UserFactory(organization=acme, email="carol@acme.example", status="created", language="fr")
    deliver(lambda: account.invitations_send(organization=acme, users=User.objects.filter(pk=carol.pk), actor=alice))
    response = anon.get(f"/i/{last_token(carol.email)}/", HTTP_ACCEPT_LANGUAGE="en")
    page = response.content.decode()
    assert '<html lang="fr">' in page and "Finalisez votre compte" in page
    # Someone who picked a language in the menu keeps it.
    anon.cookies["django_language"] = "en"
    assert '<html lang="en">' in anon.get(f"/i/{last_token(carol.email)}/").content.decode()


def test_the_status_history_names_its_column_with_a_noun_in_french(alice_client, bob, alice):
    user_change_status(user=bob, to="inactive", actor=alice)
    page = french(alice_client).get(reverse("accounts:user_detail", args=[bob.pk])).content.decode()
    assert '<th scope="col">Changement</th>' in page
    assert not re.search(r"<th[^>]*>Changer<", page)


def test_default_user_types_read_in_french_for_a_french_speaker(alice_client, acme):
    from accounts.models import UserType

    UserType.objects.create(organization=acme, name="Employee")
    UserType.objects.create(organization=acme, name="Night shift")
    page = french(alice_client).get(reverse("accounts:user_type_list")).content.decode()
    assert "Salarié" in page and "Night shift" in page
    assert ">Employee<" not in page


DAY = timezone.make_aware(datetime(2026, 12, 2, 15, 9))


def render(template, language, **context):
    with translation.override(language):
        return Template("{% load l10n %}" + template).render(Context(context))


@pytest.mark.parametrize("language", ["en", "fr"])
def test_one_date_format_per_language_and_never_the_us_order(language):
    short = render('{{ day|date:"SHORT_DATE_FORMAT" }}', language, day=DAY)
    long = render('{{ day|date:"DATE_FORMAT" }}', language, day=DAY)
    assert short == long
    assert "12/02/2026" not in short
    if language == "fr":
        assert short == "02/12/2026"
        assert render('{{ day|date:"DATETIME_FORMAT" }}', language, day=DAY) == "02/12/2026 15:09"
    assert "a.m." not in render("{{ day }}", language, day=DAY) + render("{{ day }}", language, day=DAY)


NAMED_FORMATS = {"DATE_FORMAT", "SHORT_DATE_FORMAT", "DATETIME_FORMAT", "SHORT_DATETIME_FORMAT", "TIME_FORMAT"}


def test_every_template_shows_dates_in_the_languages_own_format():
    # A page or message shows a date through the date filter with a named format, so each language's
    # one format (experquiz/formats/) applies everywhere; a literal format ("m/d/Y") would not follow it.
    # The only literal allowed is a key compared, never shown: |date:"Ymd" == today.
    from pathlib import Path

    root = Path(__file__).resolve().parents[3] / "templates"
    found = []
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".html", ".txt", ".jinja"):
            continue
        text = path.read_text()
        for match in re.finditer(r'\|(date|time):"([^"]*)"(\s*==)?', text):
            if match.group(2) not in NAMED_FORMATS and not (match.group(2) == "Ymd" and match.group(3)):
                found.append(f"{path.relative_to(root)}: {match.group(0)}")
    assert found == []


def test_the_expiry_in_the_invitation_message_ends_with_one_full_stop(alice, acme, deliver):
    carol = UserFactory(organization=acme, email="carol@acme.example", status="created")
    deliver(lambda: account.invitations_send(organization=acme, users=User.objects.filter(pk=carol.pk), actor=alice))
    body = mail.outbox[-1].body
    assert "expires on" in body and ".." not in body
    assert not re.search(r"\b(a|p)\.m\.", body)
