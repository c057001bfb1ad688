"""The emails the composer makes per shape are, byte for byte, those of the normal path
(`messages.build_email` sent by Django's SMTP backend), but for the Date, the Message-ID and the MIME
boundary, which differ between any two builds: every kind, language, reminder or not, with and
without a first name, in ASCII or not, with characters the HTML part escapes."""

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from assessments.tests.factories import make_questionnaire
from flows.assessments import Selection, assessment_invite
from invitations import messages
from invitations.composer import Composer, message_bytes, normalized
from invitations.models import Invitation
from invitations.services import resets
from invitations.services.delivery import _prepare_link
from invitations.tokens import link_token_for

from .test_recovery import invite_without_delivery, queued

pytestmark = pytest.mark.django_db

NAMES = ["Carol", "", "Zoé", 'O\'Brien & <Sons> "Ltd"', "Ætheling ß"]


@pytest.fixture
def rows(acme, alice, django_capture_on_commit_callbacks):
    """One row of each kind the composer makes, loaded as the claim loads them."""
    people = [UserFactory(organization=acme, status=status) for status in ("created", "active", "active")]
    invite_without_delivery(django_capture_on_commit_callbacks, [people[0]], alice)
    queued(django_capture_on_commit_callbacks, lambda: resets.password_reset_request(organization=acme, user=people[1]))
    queued(
        django_capture_on_commit_callbacks,
        lambda: assessment_invite(
            actor=alice,
            questionnaire=make_questionnaire(acme, title="Fire safety « night »"),
            selection=Selection(user_ids=(people[2].pk,)),
        ),
    )
    loaded = list(Invitation.objects.select_related("organization", "user", "contact").order_by("pk"))
    assert {row.kind for row in loaded} == {"account", "password_reset", "assessment"}
    now = timezone.now()
    for row in loaded:
        _prepare_link(row, now)
    return loaded


def normal(row, link):
    return message_bytes(messages.build_email(row, link=link))


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("reminder", [False, True])
def test_a_composed_email_is_the_normal_email_byte_for_byte(rows, language, reminder):
    composer = Composer()
    for row in rows:
        row.is_reminder = reminder and row.kind != "password_reset"
        row.user.language = language
        link = messages.link_for(row, link_token_for(row))
        for name in NAMES:
            row.user.first_name = name
            prepared = composer.email(row, link=link)
            assert prepared is not None, (row.kind, name)
            expected = normal(row, link)
            assert normalized(prepared.data) == normalized(expected), (row.kind, language, name)
            assert prepared.recipients == [row.address]
    # One shape per kind, and per name: empty or not, ASCII or not (the parts' encoding follows).
    assert len(composer.shapes) == 3 * 3 and all(composer.shapes.values())


def test_each_message_gets_its_own_date_and_message_id(rows):
    composer = Composer()
    row = rows[0]
    link = messages.link_for(row, link_token_for(row))
    first, second = (composer.email(row, link=link).data for _ in range(2))
    assert first != second and normalized(first) == normalized(second)


def test_a_name_that_would_make_a_line_too_long_is_built_the_normal_way(rows):
    composer = Composer()
    row = rows[0]
    link = messages.link_for(row, link_token_for(row))
    row.user.first_name = "Carol"
    assert composer.email(row, link=link) is not None
    row.user.first_name = "&" * 200  # 1,000 bytes once escaped: Django encodes that part in quoted-printable
    assert composer.email(row, link=link) is None


def test_a_shape_that_differs_from_the_normal_build_is_built_the_normal_way(rows, monkeypatch):
    """The first message of each shape is checked against the normal path."""
    composer = Composer()
    row = rows[0]
    link = messages.link_for(row, link_token_for(row))
    original = messages.build_email

    def name_in_subject(invitation, **kwargs):
        message = original(invitation, **kwargs)
        message.subject += " " + invitation.recipient.first_name.upper()
        return message

    monkeypatch.setattr(messages, "build_email", name_in_subject)
    assert composer.email(row, link=link) is None
    assert composer.email(row, link=link) is None


@pytest.mark.parametrize(
    "address", ["carol.o-neil+quiz@mail.acme.example", '"carol..x"@acme.example', "carol..x@acme.example"]
)
def test_an_address_goes_in_the_to_header_as_django_writes_it(rows, address):
    composer = Composer()
    row = rows[0]
    link = messages.link_for(row, link_token_for(row))
    row.address = address
    prepared = composer.email(row, link=link)
    if prepared is not None:
        assert normalized(prepared.data) == normalized(normal(row, link))


def test_a_link_is_the_normal_link(rows, globex):
    """Made once per kind and organisation around a stand-in for the token, then for each token."""
    composer = Composer()
    for row in [*rows, *rows]:
        for organization in (row.organization, globex):
            row.organization = organization
            for nonce in ("a", "b", "c"):
                row.nonce = nonce
                token = link_token_for(row)
                assert composer.link(row, token) == messages.link_for(row, token), (row.kind, organization)
    assert len(composer.links) == 2 * 2 and all(composer.links.values())


def test_a_link_the_stand_in_cannot_make_is_made_the_normal_way(rows, monkeypatch):
    composer = Composer()
    row = rows[0]
    original = messages.link_for
    monkeypatch.setattr(messages, "link_for", lambda invitation, token: original(invitation, token.lower()))
    for nonce in ("a", "b"):
        row.nonce = nonce
        token = link_token_for(row)
        assert composer.link(row, token) == original(row, token.lower())
