"""A contact converted to a user keeps what they were invited to and what they took: their places in
assessment invitations, their attempts and their links move to the user, who then finds them in their
own space and in the results under their name."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Contact, User
from accounts.tests.factories import ContactFactory
from assessments.models import Assignee, Attempt
from assessments.results import person_results, questionnaire_results
from assessments.tests.factories import AssigneeFactory, AssignmentFactory, make_questionnaire
from experquiz.errors import DomainError
from flows.contacts import contact_convert, contacts_convert
from invitations.models import Invitation

pytestmark = pytest.mark.django_db


@pytest.fixture
def carla(acme, alice):
    """A contact invited twice: she submitted the first quiz (75) through her link, not yet the second."""
    carla = ContactFactory(organization=acme, first_name="Carla", last_name="Candidate", email="carla@example.org")
    carla.quizzes = []
    for title, done in (("Fire drill", True), ("First aid", False)):
        quiz = make_questionnaire(acme, title=title, questions=4)
        assignment = AssignmentFactory(questionnaire=quiz)
        place = AssigneeFactory(assignment=assignment, contact=carla, opened_at=timezone.now())
        link = Invitation.objects.create(
            organization=acme,
            kind=Invitation.Kind.ASSESSMENT,
            contact=carla,
            channel="email",
            address=carla.email,
            expires_at=assignment.closes_at,
            delivery=Invitation.Delivery.SENT,
            batch=assignment.batch,
            created_by=alice,
        )
        if done:
            Attempt.objects.create(
                organization=acme,
                questionnaire=quiz,
                contact=carla,
                assignee=place,
                invitation=link,
                started_at=timezone.now() - timedelta(minutes=9),
                submitted_at=timezone.now(),
                score=Decimal("75"),
                correct_count=3,
                question_count=4,
            )
        carla.quizzes.append(quiz)
    return carla


def test_conversion_moves_places_attempts_and_links_to_the_new_user(alice, carla):
    user = contact_convert(contact=carla, to=User.Status.CREATED, actor=alice)
    assert not Assignee.objects.filter(contact=carla).exists()
    assert not Attempt.objects.filter(contact=carla).exists()
    assert not Invitation.objects.filter(contact=carla).exists()
    assert Assignee.objects.filter(user=user).count() == 2
    attempt = Attempt.objects.get(user=user)
    assert (attempt.score, attempt.assignee.user_id, attempt.invitation.user_id) == (Decimal("75.00"), user.pk, user.pk)
    # In the results under the user, not the contact.
    rows = list(person_results(alice, user=user))
    assert sorted((row["title"], row["state"]) for row in rows) == [
        ("Fire drill", "submitted"),
        ("First aid", "opened"),
    ]
    assert not person_results(alice, contact=carla).exists()
    row = questionnaire_results(alice, carla.quizzes[0]).get()
    assert (row["person_user"], row["person_contact"], row["result"]) == (user.pk, None, Decimal("75.00"))


def test_the_converted_user_finds_their_attempt_in_their_own_space(alice, carla, make_client):
    from assessments.selectors import attempt_of

    user = contact_convert(contact=carla, to=User.Status.ACTIVE, actor=alice)
    attempt = Attempt.objects.get(user=user)
    assert attempt_of(user, attempt.pk) == attempt


def test_a_clash_on_moving_is_refused_clearly_and_nothing_is_half_done(acme, alice, carla):
    """Two attempts of the contact at one questionnaire without a link would make a user two free
    attempts (the database keeps one): the conversion is refused, naming the contact and the
    questionnaire, and nothing moves."""
    quiz = carla.quizzes[1]
    for _ in range(2):
        Attempt.objects.create(organization=acme, questionnaire=quiz, contact=carla, started_at=timezone.now())
    users_before = User.objects.count()
    with pytest.raises(DomainError) as refused:
        contact_convert(contact=carla, to=User.Status.CREATED, actor=alice)
    assert "Carla Candidate" in refused.value.message and "First aid" in refused.value.message
    assert User.objects.count() == users_before
    assert Attempt.objects.filter(contact=carla).count() == 3
    assert Assignee.objects.filter(contact=carla).count() == 2
    assert not Contact.objects.get(pk=carla.pk).is_converted
    converted, refused_list = contacts_convert(contacts=[carla], to=User.Status.CREATED, actor=alice)
    assert not converted and "First aid" in refused_list[0][1]
