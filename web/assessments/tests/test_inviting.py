"""Inviting people to an assessment from the pages: pick, review (nothing written), confirm (once),
the assignment's page, adding and removing people. (Every URL is also walked by the access matrix.)"""

import html as html_module
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Contact
from accounts.tests.factories import ContactFactory, MembershipFactory, UserFactory
from assessments.models import Assignee, Assignment, Attempt
from assessments.tests.factories import make_questionnaire
from invitations.models import InvitationBatch

pytestmark = pytest.mark.django_db


def html(response) -> str:
    return html_module.unescape(response.content.decode())


def text(response) -> str:
    """The page's text, tags removed, spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html(response)).split())


def local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def quiz(acme):
    return make_questionnaire(acme, title="Fire safety", visibility="all")


@pytest.fixture
def window():
    opens = timezone.now() + timedelta(hours=1)
    return {"opens_at": local(opens), "closes_at": local(opens + timedelta(days=2))}


@pytest.fixture
def members(acme, lyon, paris, ines, otto):
    """Lyon: Ines and Ada; Paris: Otto and Ada (in both) and Dan (deactivated)."""
    ada = UserFactory(organization=acme, email="ada@acme.example", first_name="Ada", last_name="Both")
    dan = UserFactory(
        organization=acme, email="dan@acme.example", first_name="Dan", last_name="Gone", status="inactive"
    )
    MembershipFactory(group=lyon, user=ada)
    MembershipFactory(group=paris, user=ada)
    MembershipFactory(group=paris, user=dan)
    return {"ada": ada, "dan": dan}


def test_the_questionnaire_page_offers_to_invite_people(alice_client, quiz):
    page = html(alice_client.get(f"/questionnaires/{quiz.pk}/"))
    assert f'href="/questionnaires/{quiz.pk}/invite/"' in page
    assert "Nobody has been invited to it yet." in page


def test_the_pick_page_lists_groups_with_their_sizes_and_defaults_the_window(alice_client, acme, quiz, members):
    before = timezone.localtime().replace(second=0, microsecond=0, tzinfo=None)
    response = alice_client.get(f"/questionnaires/{quiz.pk}/invite/")
    page = html(response)
    assert response.status_code == 200
    assert "Lyon 2 members" in text(response) and "Paris 3 members, 2 active" in text(response)
    # The window opens now (to the minute, in local time) and lasts the organisation’s default: one day.
    opens = response.context["form"]["opens_at"].value()
    assert opens - before < timedelta(minutes=2)
    assert response.context["form"]["closes_at"].value() - opens == timedelta(hours=24)
    assert 'type="datetime-local"' in page


def test_searching_redraws_the_page_and_keeps_what_was_picked(alice_client, quiz, lyon, members, ines):
    response = alice_client.post(
        f"/questionnaires/{quiz.pk}/invite/",
        {
            "groups": [lyon.pk],
            "users": [members["ada"].pk],
            "group_q": "par",
            "find-q": "otto",
            "addresses": "x@y.example",
        },
    )
    assert response.status_code == 200
    assert [group.pk for group in response.context["picked_groups"]] == [lyon.pk]
    assert [group.name for group in response.context["shown_groups"]] == ["Paris"]
    assert [user.pk for user in response.context["picked_users"]] == [members["ada"].pk]
    assert [user.first_name for user in response.context["found_users"]] == ["Otto"]
    assert "x@y.example" in html(response)
    assert not Assignment.objects.exists() and not Contact.objects.exists()


def test_the_review_shows_the_arithmetic_and_writes_nothing(alice_client, quiz, lyon, paris, members, ines, window):
    response = alice_client.post(
        f"/questionnaires/{quiz.pk}/invite/review/",
        {
            "groups": [lyon.pk, paris.pk],
            "users": [ines.pk],
            "addresses": "INES@acme.example\nnew.person@example.com; 06 12 34 56 78",
            **window,
        },
    )
    assert response.status_code == 200, response.context["form"].errors
    summary = response.context["summary"]
    assert summary.group_total == 5  # Lyon 2 + Paris 3
    # Ines (twice more), Ada (in both groups) once each; Dan skipped; two new contacts.
    assert sorted(user.first_name for user in summary.invited_users) == ["Ada", "Ines", "Otto"]
    assert [label for label, _reason in summary.skipped] == [str(members["dan"])]
    assert summary.total == 5
    # 5 group members + 4 picked one by one (a user, 3 addresses) = 5 invited + Dan skipped + 3 duplicates.
    assert summary.picked == 4 and summary.duplicates == 3
    page = " ".join(html(response).split())
    assert "5 people will be invited." in page and "Sum of the group sizes: 5" in page
    assert "3 duplicates removed" in page
    assert "new.person@example.com" in page and "Nothing has been sent yet." in page
    assert not Assignment.objects.exists() and not Contact.objects.exists() and not InvitationBatch.objects.exists()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"addresses": "ok@acme.example\nnot an address\n\n0612345678, what?"},
            "addresses",
            "Line 2: “not an address”",
        ),
        ({"addresses": "ok@acme.example\nnot an address\n\n0612345678, what?"}, "addresses", "Line 4: “what?”"),
        ({"addresses": "bad@"}, "addresses", "Line 1: “bad@” is neither an email address nor a mobile number."),
        ({}, "__all__", "Pick at least one group, user or contact, or paste an address."),
        ({"users": ["999999"]}, "users", "Pick users from the list."),
        ({"groups": ["abc"]}, "groups", "Pick groups from the list."),
    ],
)
def test_the_review_names_what_is_wrong(alice_client, quiz, window, data, field, message):
    response = alice_client.post(f"/questionnaires/{quiz.pk}/invite/review/", {**window, **data})
    assert response.status_code == 200 and "summary" not in response.context
    assert any(message in error for error in response.context["form"].errors[field])
    assert message in html(response)


def test_the_window_must_close_after_it_opens_and_in_the_future(alice_client, quiz, ines):
    now = timezone.now()
    response = alice_client.post(
        f"/questionnaires/{quiz.pk}/invite/review/",
        {"users": [ines.pk], "opens_at": local(now), "closes_at": local(now - timedelta(hours=1))},
    )
    assert response.context["form"].errors["closes_at"] == ["The window must close after it opens."]
    response = alice_client.post(
        f"/questionnaires/{quiz.pk}/invite/review/",
        {"users": [ines.pk], "opens_at": local(now - timedelta(days=2)), "closes_at": local(now - timedelta(days=1))},
    )
    assert "This time has passed" in response.context["form"].errors["closes_at"][0]
    response = alice_client.post(
        f"/questionnaires/{quiz.pk}/invite/review/", {"users": [ines.pk], "opens_at": "tomorrow", "closes_at": ""}
    )
    assert set(response.context["form"].errors) == {"opens_at", "closes_at"}


def _review_form(response) -> dict:
    """The hidden fields of the review page's confirmation form, as the browser would post them."""
    form = html(response).split("data-confirm-form", 1)[1].split("</form>", 1)[0]
    data = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form):
        data.setdefault(name, []).append(value)
    return data


def test_confirming_invites_once_however_many_times_it_is_posted(alice_client, quiz, lyon, members, ines, window):
    review = alice_client.post(
        f"/questionnaires/{quiz.pk}/invite/review/",
        {"groups": [lyon.pk], "addresses": "new.person@example.com", **window},
    )
    data = _review_form(review)
    response = alice_client.post(f"/questionnaires/{quiz.pk}/invite/confirm/", data)
    assignment = Assignment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/questionnaires/{quiz.pk}/invitations/{assignment.pk}/"
    assert local(assignment.opens_at) == window["opens_at"] and local(assignment.closes_at) == window["closes_at"]
    places = Assignee.objects.filter(assignment=assignment)
    assert {place.user_id for place in places if place.user_id} == {ines.pk, members["ada"].pk}
    assert [place.contact.email for place in places if place.contact_id] == ["new.person@example.com"]
    # The same form again (a second click, a reload of the POST): sent to the same invitation.
    again = alice_client.post(f"/questionnaires/{quiz.pk}/invite/confirm/", data, follow=True)
    assert Assignment.objects.count() == 1 and Contact.objects.count() == 1
    assert "These invitations were already made." in html(again)
    page = html(alice_client.get(response["Location"]))
    assert "Ines" in page and "Not started" in page


def test_a_confirmation_without_its_review_key_is_sent_back_to_review(alice_client, quiz, ines, window):
    response = alice_client.post(f"/questionnaires/{quiz.pk}/invite/confirm/", {"users": [ines.pk], **window})
    assert response.status_code == 200 and "This summary has expired" in html(response)
    assert not Assignment.objects.exists()


@pytest.fixture
def assignment(alice, quiz, ines, otto):
    from flows.assessments import Selection, assessment_invite

    made, _summary = assessment_invite(
        actor=alice, questionnaire=quiz, selection=Selection(user_ids=(ines.pk, otto.pk), addresses="")
    )
    return made


def test_the_assignment_page_shows_people_and_where_they_stand(alice_client, quiz, assignment, ines, otto):
    started = Assignee.objects.get(assignment=assignment, user=otto)
    Attempt.objects.create(
        organization=quiz.organization,
        questionnaire=quiz,
        user=otto,
        assignee=started,
        started_at=timezone.now(),
    )
    response = alice_client.get(f"/questionnaires/{quiz.pk}/invitations/{assignment.pk}/")
    page = " ".join(html(response).split())
    assert response.status_code == 200
    states = {str(a.person): a.state for a in response.context["people"]}
    assert states == {str(ines): "not_started", str(otto): "in_progress"}
    counts = {key: value for key, _label, value in response.context["counts"]}
    assert counts == {"invited": 2, "not_started": 1, "in_progress": 1, "submitted": 0, "removed": 0}
    # Only someone who has not started can be removed.
    not_started = Assignee.objects.get(assignment=assignment, user=ines)
    assert f"/people/{not_started.pk}/remove/" in page and f"/people/{started.pk}/remove/" not in page
    assert "Add people" in page
    # Each count lists its people; an unknown state lists everyone.
    url = f"/questionnaires/{quiz.pk}/invitations/{assignment.pk}/"
    in_progress = alice_client.get(url, {"state": "in_progress"}).context["people"]
    assert [str(a.person) for a in in_progress] == [str(otto)]
    assert len(alice_client.get(url, {"state": "nonsense"}).context["people"].object_list) == 2


def test_removing_a_person_asks_then_removes_and_refuses_once_started(alice_client, quiz, assignment, ines, otto):
    assignee = Assignee.objects.get(assignment=assignment, user=ines)
    url = f"/questionnaires/{quiz.pk}/invitations/{assignment.pk}/people/{assignee.pk}/remove/"
    page = html(alice_client.get(url))
    assert f"Remove {ines} from this invitation?" in page
    assignee.refresh_from_db()
    assert assignee.removed_at is None  # the GET only asks
    response = alice_client.post(url, follow=True)
    assignee.refresh_from_db()
    assert assignee.removed_at is not None
    assert f"{ines} is no longer invited" in html(response)
    started = Assignee.objects.get(assignment=assignment, user=otto)
    Attempt.objects.create(
        organization=quiz.organization, questionnaire=quiz, user=otto, assignee=started, started_at=timezone.now()
    )
    response = alice_client.post(
        f"/questionnaires/{quiz.pk}/invitations/{assignment.pk}/people/{started.pk}/remove/", follow=True
    )
    started.refresh_from_db()
    assert started.removed_at is None and "can no longer be removed: in progress" in html(response)


def test_adding_people_reviews_then_adds_the_new_ones_only(alice_client, quiz, assignment, ines, lyon, members):
    base = f"/questionnaires/{quiz.pk}/invitations/{assignment.pk}/add/"
    page = html(alice_client.get(base))
    assert "Opening window" not in page  # the window is the invitation's own
    review = alice_client.post(f"{base}review/", {"groups": [lyon.pk]})
    summary = review.context["summary"]
    assert [str(person) for person in summary.already_invited] == [str(ines)]
    assert [user.first_name for user in summary.invited_users] == ["Ada"]
    assert "1 person is already invited (not invited again)" in " ".join(html(review).split())
    assert Assignee.objects.filter(assignment=assignment).count() == 2
    response = alice_client.post(f"{base}confirm/", _review_form(review))
    assert response["Location"] == f"/questionnaires/{quiz.pk}/invitations/{assignment.pk}/"
    assert Assignee.objects.filter(assignment=assignment, user=members["ada"]).exists()


def test_nobody_can_be_added_once_the_invitation_has_closed(alice_client, quiz, assignment, ines):
    Assignment.objects.filter(pk=assignment.pk).update(
        opens_at=timezone.now() - timedelta(days=2), closes_at=timezone.now() - timedelta(days=1)
    )
    base = f"/questionnaires/{quiz.pk}/invitations/{assignment.pk}/add/"
    for response in (
        alice_client.get(base, follow=True),
        alice_client.post(f"{base}review/", {"users": [ines.pk]}, follow=True),
    ):
        assert "This invitation has closed: nobody can be added to it." in html(response)
    page = html(alice_client.get(f"/questionnaires/{quiz.pk}/invitations/{assignment.pk}/"))
    assert "Add people" not in page


def test_a_group_scoped_inviter_picks_within_their_groups_only(
    maggie_client, acme, quiz, lyon, paris, ines, otto, window
):
    ContactFactory(organization=acme, email="carl@contact.example")
    response = maggie_client.get(f"/questionnaires/{quiz.pk}/invite/")
    assert [group.name for group in response.context["shown_groups"]] == ["Lyon"]
    assert [user.first_name for user in response.context["found_users"]] == ["Ines"]
    assert not response.context["may_pick_contacts"] and "Contacts" not in html(response)
    response = maggie_client.post(
        f"/questionnaires/{quiz.pk}/invite/review/", {"groups": [paris.pk], "users": [otto.pk], **window}
    )
    assert set(response.context["form"].errors) == {"groups", "users"}


def test_the_pages_speak_french(alice_client, quiz, lyon, ines, window):
    page = text(alice_client.get(f"/questionnaires/{quiz.pk}/invite/", HTTP_ACCEPT_LANGUAGE="fr"))
    assert "Inviter des personnes à « Fire safety »" in page and "Période d’ouverture" in page
    response = alice_client.post(
        f"/questionnaires/{quiz.pk}/invite/review/", {"addresses": "x\nnope@", **window}, HTTP_ACCEPT_LANGUAGE="fr"
    )
    assert "Ligne 2 : « nope@ » n’est ni une adresse e-mail ni un numéro de mobile." in html(response)
    response = alice_client.post(
        f"/questionnaires/{quiz.pk}/invite/review/", {"groups": [lyon.pk], **window}, HTTP_ACCEPT_LANGUAGE="fr"
    )
    assert "1 personne sera invitée." in text(response)


def test_the_assignment_page_names_the_packets_and_each_persons_packet(alice, alice_client, quiz, ines, otto, settings):
    from flows.assessments import Selection, assessment_invite

    settings.INVITATIONS_PACKET_SIZE = 1
    assignment, _summary = assessment_invite(
        actor=alice, questionnaire=quiz, selection=Selection(user_ids=(otto.pk, ines.pk))
    )
    response = alice_client.get(f"/questionnaires/{quiz.pk}/invitations/{assignment.pk}/")
    # Ines Inscope, then Otto Outscope: one packet each, named after their names.
    assert [packet["packet"] for packet in response.context["packets"]] == ["In", "Ou"]
    assert {str(a.person): a.packet for a in response.context["people"]} == {str(ines): "In", str(otto): "Ou"}
    assert "0 of 1 sent, 0 failed" in text(response)  # queued when the transaction commits


def test_the_organisations_options_set_the_window_and_when_messages_go(alice_client, acme, quiz, ines):
    from assessments.models import AssessmentSettings

    AssessmentSettings.objects.create(organization=acme, default_window_hours=48, send_minutes_before_opening=60)
    form = alice_client.get(f"/questionnaires/{quiz.pk}/invite/").context["form"]
    assert form["closes_at"].value() - form["opens_at"].value() == timedelta(hours=48)
    opens = timezone.now() + timedelta(hours=3)
    window = {"opens_at": local(opens), "closes_at": local(opens + timedelta(days=1))}
    response = alice_client.post(f"/questionnaires/{quiz.pk}/invite/review/", {"users": [ines.pk], **window})
    send_at = response.context["send_at"]
    assert timezone.localtime(send_at).strftime("%Y-%m-%dT%H:%M") == local(opens - timedelta(hours=1))
    assert "(the organisation sends them before the window opens)" in text(response)
    # A window opening within the hour: the messages go at once.
    soon = {"opens_at": local(timezone.now()), "closes_at": window["closes_at"]}
    response = alice_client.post(f"/questionnaires/{quiz.pk}/invite/review/", {"users": [ines.pk], **soon})
    assert response.context["send_at"] is None and "At once, when you confirm" in text(response)
