"""Inviting people to an assessment (flows.assessments): the summary's arithmetic, who is skipped and
why, the window, packets and their labels, adding and removing people, and the messages."""

from datetime import timedelta

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from accounts.models import Contact, User
from accounts.tests.factories import ContactFactory, MembershipFactory, UserFactory
from assessments.models import AssessmentSettings, Assignee, Attempt, Questionnaire
from assessments.tests.factories import make_questionnaire
from audit.models import Action, AuditEvent
from experquiz import sms
from experquiz.authorization import NotAllowed
from experquiz.errors import DomainError, InvalidFields
from experquiz.sms.gsm import SMS_LIMIT, septets
from flows.assessment_people import packet_label
from flows.assessments import (
    Selection,
    assessment_invitation_preview,
    assessment_invite,
    assignment_add_people,
    assignment_remove_person,
)
from groups.tests.factories import grant
from invitations.models import Invitation
from rights.names import Right

pytestmark = pytest.mark.django_db


@pytest.fixture
def quiz(acme):
    return make_questionnaire(acme, title="Fire safety")


def person(acme, first, last, *groups, **fields):
    user = UserFactory(organization=acme, first_name=first, last_name=last, **fields)
    for group in groups:
        MembershipFactory(group=group, user=user)
    return user


def test_the_summary_counts_group_sizes_and_invites_each_person_once(acme, alice, quiz, lyon, paris):
    both = person(acme, "Bea", "Both", lyon, paris)
    person(acme, "Lou", "Lyon", lyon)
    person(acme, "Pia", "Paris", paris)
    picked = person(acme, "Pat", "Picked")
    contact = ContactFactory(organization=acme, first_name="Cora", last_name="Contact", email="cora@example.org")
    selection = Selection(
        group_ids=(lyon.pk, paris.pk),
        user_ids=(both.pk, picked.pk),
        contact_ids=(contact.pk,),
        addresses=f"{picked.email}\ncora@example.org; new@example.org, NEW@example.org\n06 12 34 56 78",
    )

    summary = assessment_invitation_preview(actor=alice, questionnaire=quiz, selection=selection)

    assert [(group.name, size) for group, size in summary.group_sizes] == [("Lyon", 2), ("Paris", 2)]
    assert summary.group_total == 4
    # Picked one by one: 2 users, 1 contact, 5 valid pasted addresses.
    assert summary.picked == 8
    assert summary.total == 7  # Bea, Lou, Pia, Pat, Cora, new@, the mobile
    assert summary.duplicates == 4 + 8 - 7
    assert sorted(u.last_name for u in summary.invited_users) == ["Both", "Lyon", "Paris", "Picked"]
    assert summary.invited_contacts == [contact]
    assert sorted(summary.new_contact_addresses) == ["+33612345678", "new@example.org"]
    assert summary.skipped == []
    assert not Contact.objects.filter(email="new@example.org").exists()  # a preview writes nothing


def test_only_active_users_are_invited_the_others_are_listed_with_the_reason(acme, alice, quiz, lyon):
    person(acme, "Ann", "Active", lyon)
    person(acme, "Ivo", "Invited", lyon, status=User.Status.INVITED)
    person(acme, "Ida", "Inactive", lyon, status=User.Status.INACTIVE)

    summary = assessment_invitation_preview(actor=alice, questionnaire=quiz, selection=Selection(group_ids=(lyon.pk,)))

    assert [u.first_name for u in summary.invited_users] == ["Ann"]
    assert summary.skipped == [("Ida Inactive", "not active (inactive)"), ("Ivo Invited", "not active (invited)")]


def test_bad_pasted_text_is_listed_and_the_rest_goes(acme, alice, quiz):
    summary = assessment_invitation_preview(
        actor=alice, questionnaire=quiz, selection=Selection(addresses="nobody@, 12, ok@example.org")
    )
    assert summary.skipped == [
        ("nobody@", "not a valid email address"),
        ("12", "neither an email address nor a mobile number"),
    ]
    assert summary.new_contact_addresses == ["ok@example.org"]


def test_a_group_scoped_inviter_reaches_their_groups_people_only_and_out_of_scope_people_are_not_named(
    acme, maggie, quiz, lyon, ines, otto
):
    selection = Selection(group_ids=(lyon.pk,), user_ids=(otto.pk,), addresses="stranger@example.org")

    summary = assessment_invitation_preview(actor=maggie, questionnaire=quiz, selection=selection)

    assert summary.invited_users == [ines]
    assert summary.new_contact_addresses == []
    assert summary.skipped == [("2 people", "outside your right to invite")]
    assert "Otto" not in str(summary.skipped)


def test_a_group_out_of_the_inviters_scope_is_refused(maggie, quiz, paris):
    with pytest.raises(NotAllowed):
        assessment_invitation_preview(actor=maggie, questionnaire=quiz, selection=Selection(group_ids=(paris.pk,)))


def test_inviting_takes_the_invite_right_and_a_questionnaire_the_inviter_may_use(acme, bob, maggie, lyon, ines):
    with pytest.raises(NotAllowed):
        assessment_invite(actor=bob, questionnaire=make_questionnaire(acme), selection=Selection(user_ids=(ines.pk,)))
    private = make_questionnaire(acme, visibility=Questionnaire.Visibility.PRIVATE)
    with pytest.raises(NotAllowed):
        assessment_invite(actor=maggie, questionnaire=private, selection=Selection(user_ids=(ines.pk,)))
    # Shown to her group: she may invite to it, and a private one she manages too.
    shown = make_questionnaire(acme, visibility=Questionnaire.Visibility.GROUPS, groups=[lyon])
    assessment_invite(actor=maggie, questionnaire=shown, selection=Selection(user_ids=(ines.pk,)))
    grant(maggie, Right.MANAGE_QUESTIONNAIRES, lyon)
    mine = make_questionnaire(acme, visibility=Questionnaire.Visibility.PRIVATE, created_by=maggie)
    assessment_invite(actor=maggie, questionnaire=mine, selection=Selection(user_ids=(ines.pk,)))


def test_an_unpublished_questionnaire_is_refused_with_the_reason(acme, alice, bob):
    draft = make_questionnaire(acme, published=False)
    with pytest.raises(DomainError, match="Publish the questionnaire"):
        assessment_invite(actor=alice, questionnaire=draft, selection=Selection(user_ids=(bob.pk,)))


def test_invite_makes_the_assignment_places_and_one_batch_of_messages(acme, alice, bob, quiz, deliver):
    contact = ContactFactory(organization=acme, email="cora@example.org")
    before = timezone.now()

    assignment, summary = deliver(
        lambda: assessment_invite(
            actor=alice,
            questionnaire=quiz,
            selection=Selection(user_ids=(bob.pk,), contact_ids=(contact.pk,), addresses="new@example.org"),
        )
    )

    assert summary.total == 3
    assert before <= assignment.opens_at <= timezone.now()
    assert assignment.closes_at == assignment.opens_at + timedelta(hours=24)
    assert assignment.send_at == assignment.opens_at
    new = Contact.objects.get(organization=acme, email="new@example.org")
    assert {(a.user_id, a.contact_id) for a in assignment.assignees.all()} == {
        (bob.pk, None),
        (None, contact.pk),
        (None, new.pk),
    }
    messages = Invitation.objects.filter(batch=assignment.batch)
    assert messages.count() == 3
    assert set(messages.values_list("kind", flat=True)) == {"assessment"}
    assert set(messages.values_list("expires_at", flat=True)) == {assignment.closes_at}
    assert set(messages.values_list("delivery", flat=True)) == {"sent"}
    assert sorted(m.to[0] for m in mail.outbox) == sorted(["bob@acme.example", "cora@example.org", "new@example.org"])
    body = mail.outbox[0].body
    assert "Fire safety" in body and "/a/" in body
    assert mail.outbox[0].alternatives[0][1] == "text/html"
    actions = set(AuditEvent.objects.filter(organization=acme).values_list("action", flat=True))
    assert {Action.ASSESSMENT_INVITED, Action.CONTACT_CREATED} <= actions


def test_nothing_is_written_when_nobody_can_be_invited(acme, alice, quiz):
    inactive = person(acme, "Ida", "Inactive", status=User.Status.INACTIVE)
    with pytest.raises(DomainError, match="Nobody"):
        assessment_invite(actor=alice, questionnaire=quiz, selection=Selection(user_ids=(inactive.pk,)))
    assert not Invitation.objects.exists()


@pytest.mark.parametrize(
    "opens, closes, field, message",
    [
        (0, -1, "closes_at", "must close after it opens"),
        (-48, -24, "closes_at", "already past"),
        (24 * 400, 24 * 401, "opens_at", "at most a year"),
    ],
)
def test_a_bad_window_is_refused_naming_the_field(alice, bob, quiz, opens, closes, field, message):
    now = timezone.now()
    with pytest.raises(InvalidFields) as refused:
        assessment_invite(
            actor=alice,
            questionnaire=quiz,
            selection=Selection(user_ids=(bob.pk,)),
            opens_at=now + timedelta(hours=opens),
            closes_at=now + timedelta(hours=closes),
        )
    assert message in refused.value.errors[field][0]
    assert not Invitation.objects.exists()


def test_the_default_window_follows_the_organisation(acme, alice, bob, quiz):
    AssessmentSettings.objects.create(organization=acme, default_window_hours=72)
    opens = timezone.now() + timedelta(days=2)
    assignment, _summary = assessment_invite(
        actor=alice, questionnaire=quiz, selection=Selection(user_ids=(bob.pk,)), opens_at=opens
    )
    assert assignment.closes_at == opens + timedelta(hours=72)


def test_packet_labels_take_two_letters_of_the_first_and_last_names(acme, alice, quiz, lyon):
    names = ["Abbot", "Baker", "Cole", "Cooper", "Dupont", "Évrard", "Young"]
    for name in names:
        person(acme, "X", name, lyon)
    with override_settings(INVITATIONS_PACKET_SIZE=3):
        summary = assessment_invitation_preview(
            actor=alice, questionnaire=quiz, selection=Selection(group_ids=(lyon.pk,))
        )
        assignment, _summary = assessment_invite(
            actor=alice, questionnaire=quiz, selection=Selection(group_ids=(lyon.pk,))
        )
    assert summary.packets == ["Ab–Co", "Co–Év", "Yo"]
    rows = Invitation.objects.filter(batch=assignment.batch).order_by("pk").select_related("user")
    assert [(row.user.last_name, row.packet) for row in rows] == [
        ("Abbot", "Ab–Co"),
        ("Baker", "Ab–Co"),
        ("Cole", "Ab–Co"),
        ("Cooper", "Co–Év"),
        ("Dupont", "Co–Év"),
        ("Évrard", "Co–Év"),
        ("Young", "Yo"),
    ]


def test_a_packet_label_uses_an_address_when_there_is_no_name(acme):
    contact = ContactFactory(organization=acme, first_name="", last_name="", email="zoe@example.org")
    assert packet_label("alan@example.org", contact) == "Al–Zo"


def test_people_are_added_until_it_closes_and_those_already_in_are_listed(acme, alice, bob, quiz, lyon, ines):
    assignment, _summary = assessment_invite(actor=alice, questionnaire=quiz, selection=Selection(user_ids=(bob.pk,)))

    summary = assignment_add_people(actor=alice, assignment=assignment, selection=Selection(user_ids=(bob.pk, ines.pk)))

    assert summary.already_invited == [bob]
    assert summary.invited_users == [ines]
    assert Assignee.objects.filter(assignment=assignment).count() == 2
    assert Invitation.objects.filter(batch=assignment.batch).count() == 2
    with pytest.raises(DomainError, match="already invited"):
        assignment_add_people(actor=alice, assignment=assignment, selection=Selection(user_ids=(bob.pk,)))
    assignment.closes_at = timezone.now() - timedelta(minutes=1)
    assignment.opens_at = assignment.closes_at - timedelta(hours=1)
    assignment.save()
    otto = person(acme, "Otto", "Late")
    with pytest.raises(DomainError, match="closed"):
        assignment_add_people(actor=alice, assignment=assignment, selection=Selection(user_ids=(otto.pk,)))


def test_removing_someone_who_has_not_started_keeps_their_place_and_stops_their_unsent_message(acme, alice, bob, quiz):
    assignment, _summary = assessment_invite(actor=alice, questionnaire=quiz, selection=Selection(user_ids=(bob.pk,)))
    assignee = assignment.assignees.get()

    assignment_remove_person(actor=alice, assignee=assignee)

    assignee.refresh_from_db()
    assert assignee.removed_at is not None
    assert Invitation.objects.get(batch=assignment.batch).revoked_at is not None
    assert AuditEvent.objects.filter(action=Action.ASSESSMENT_PERSON_REMOVED, target_user=bob).exists()
    # Adding them back clears it, with a new message.
    summary = assignment_add_people(actor=alice, assignment=assignment, selection=Selection(user_ids=(bob.pk,)))
    assert summary.invited_users == [bob]
    assignee.refresh_from_db()
    assert assignee.removed_at is None
    assert Invitation.objects.filter(batch=assignment.batch, revoked_at__isnull=True).count() == 1


def test_someone_who_has_started_cannot_be_removed(acme, alice, bob, quiz):
    assignment, _summary = assessment_invite(actor=alice, questionnaire=quiz, selection=Selection(user_ids=(bob.pk,)))
    assignee = assignment.assignees.get()
    Attempt.objects.create(
        organization=acme, questionnaire=quiz, user=bob, assignee=assignee, started_at=timezone.now()
    )
    with pytest.raises(DomainError, match="already started"):
        assignment_remove_person(actor=alice, assignee=assignee)


def test_a_group_scoped_inviter_cannot_remove_someone_out_of_their_scope(acme, alice, maggie, otto, quiz):
    assignment, _summary = assessment_invite(actor=alice, questionnaire=quiz, selection=Selection(user_ids=(otto.pk,)))
    with pytest.raises(NotAllowed):
        assignment_remove_person(actor=maggie, assignee=assignment.assignees.get())


def test_the_sms_fits_one_gsm_message_with_a_long_name_and_title_and_is_in_the_recipients_language(
    acme, alice, deliver
):
    acme.name = "Compagnie Générale des Établissements Industriels et Commerciaux de la Région Lyonnaise"
    acme.save()
    quiz = make_questionnaire(
        acme, title="Évaluation annuelle de la sécurité incendie et des premiers secours pour les équipes de nuit"
    )
    texter = UserFactory(organization=acme, mobile="+33612345678", preferred_channel="sms", language="fr")

    deliver(lambda: assessment_invite(actor=alice, questionnaire=quiz, selection=Selection(user_ids=(texter.pk,))))

    [message] = sms.outbox
    assert septets(message.body) <= SMS_LIMIT
    assert "/a/" in message.body and message.body.rstrip("/").rsplit("/", 1)[-1]
    assert "Compagnie" in message.body
    assert "vous invite" in message.body or "invite" in message.body


def test_the_batch_page_shows_the_packets_so_an_administrator_finds_someones(acme, alice, alice_client, quiz, lyon):
    for name in ["Abbot", "Baker", "Cole", "Cooper"]:
        person(acme, "X", name, lyon)
    with override_settings(INVITATIONS_PACKET_SIZE=2):
        assignment, _summary = assessment_invite(
            actor=alice, questionnaire=quiz, selection=Selection(group_ids=(lyon.pk,))
        )
    page = alice_client.get(f"/invitations/batches/{assignment.batch_id}/").content.decode()
    packets = page.split("data-packets", 1)[1]
    assert packets.index("Ab–Ba</th>") < packets.index("Co</th>")
