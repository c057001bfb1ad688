"""Attempts through an assessment link (assessments.invited): one per place whichever link is used,
the window (not open yet, too late, closing mid-attempt), a removed person, someone else's link,
links used up on submission, the overdue submissions of beat, and the races on real PostgreSQL."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import ContactFactory, OrganizationFactory, UserFactory
from assessments import services
from assessments.errors import AttemptClosed, LinkUnusable, NotAllowed
from assessments.invited import assignee_mark_opened, attempts_submit_overdue, invited_attempt_start
from assessments.models import Assignee, Attempt
from assessments.tests.factories import add_link, correct_ids, make_assignment, make_questionnaire, wrong_ids
from assessments.tests.test_attempts import at_once, postgres  # noqa: F401  (a fixture)
from audit.models import Action, AuditEvent
from invitations.models import Invitation
from invitations.selectors import invitation_by_token

pytestmark = pytest.mark.django_db
ASSESSMENT = [Invitation.Kind.ASSESSMENT]


def link(organization, token):
    return invitation_by_token(organization, token, ASSESSMENT)


@pytest.fixture
def cora(acme):
    return ContactFactory(organization=acme, first_name="Cora", last_name="Candidate", email="cora@example.com")


@pytest.fixture
def quiz(acme):
    return make_questionnaire(acme, title="Safety basics", questions=3, time_limit_minutes=30)


def test_a_contact_starts_through_their_link_and_gets_the_same_attempt_by_any_of_their_links(acme, cora, quiz):
    assignment, tokens = make_assignment(quiz, people=[cora])
    invitation = link(acme, tokens[cora])
    attempt = invited_attempt_start(invitation=invitation, actor=cora)
    assert (attempt.contact, attempt.user, attempt.invitation) == (cora, None, invitation)
    assert attempt.assignee == Assignee.objects.get(assignment=assignment, contact=cora)
    assert attempt.deadline_at == attempt.started_at + timedelta(minutes=30)
    event = AuditEvent.objects.get(action=Action.ATTEMPT_STARTED)
    assert event.actor_id is None and event.target_label == "Safety basics"
    # Again, and through a reminder: the same attempt.
    reminder = add_link(attempt.assignee, is_reminder=True)
    assert invited_attempt_start(invitation=invitation, actor=cora) == attempt
    assert invited_attempt_start(invitation=link(acme, reminder), actor=cora) == attempt
    assert Attempt.objects.count() == 1


def test_the_deadline_is_the_closing_time_when_it_comes_before_the_time_limit(acme, cora, quiz):
    closes = timezone.now() + timedelta(minutes=10)
    _assignment, tokens = make_assignment(quiz, people=[cora], closes_at=closes)
    attempt = invited_attempt_start(invitation=link(acme, tokens[cora]), actor=cora)
    assert attempt.deadline_at == closes


def refusal(acme, token, actor):
    with pytest.raises(LinkUnusable) as refused:
        invited_attempt_start(invitation=link(acme, token), actor=actor)
    assert not Attempt.objects.exists()
    return refused.value.reason


def test_the_window_not_open_yet_and_too_late(acme, cora, quiz):
    now = timezone.now()
    _a, later = make_assignment(quiz, people=[cora], opens_at=now + timedelta(hours=1))
    assert refusal(acme, later[cora], cora) == "not_open"
    _a, past = make_assignment(quiz, people=[cora], opens_at=now - timedelta(days=2), closes_at=now - timedelta(days=1))
    assert refusal(acme, past[cora], cora) == "too_late"


def test_removed_revoked_and_unpublished(acme, cora, quiz, bob):
    assignment, tokens = make_assignment(quiz, people=[cora, bob])
    Assignee.objects.filter(contact=cora).update(removed_at=timezone.now())
    assert refusal(acme, tokens[cora], cora) == "removed"
    Invitation.objects.filter(user=bob).update(revoked_at=timezone.now())
    assert refusal(acme, tokens[bob], bob) == "revoked"
    Invitation.objects.filter(user=bob).update(revoked_at=None)
    quiz.is_published = False
    quiz.save()
    assert refusal(acme, tokens[bob], bob) == "unpublished"


def test_only_the_person_the_link_was_sent_to_may_use_it(acme, cora, quiz, bob, alice):
    _assignment, tokens = make_assignment(quiz, people=[cora, bob])
    other = ContactFactory(organization=acme)
    for invitation, actor in ((link(acme, tokens[bob]), alice), (link(acme, tokens[bob]), cora)):
        with pytest.raises(NotAllowed):
            invited_attempt_start(invitation=invitation, actor=actor)
    with pytest.raises(NotAllowed):
        invited_attempt_start(invitation=link(acme, tokens[cora]), actor=other)
    with pytest.raises(NotAllowed):
        assignee_mark_opened(invitation=link(acme, tokens[cora]), actor=bob)
    assert not Attempt.objects.exists() and not Assignee.objects.filter(opened_at__isnull=False).exists()


def test_answers_and_submission_by_the_contact_use_up_every_link_of_the_place(acme, cora, quiz):
    _assignment, tokens = make_assignment(quiz, people=[cora])
    attempt = invited_attempt_start(invitation=link(acme, tokens[cora]), actor=cora)
    reminder = add_link(attempt.assignee, is_reminder=True)
    q1, q2, _q3 = quiz.questions.all()
    services.answer_save(attempt=attempt, question=q1, choice_ids=correct_ids(q1), actor=cora)
    services.answer_save(attempt=attempt, question=q2, choice_ids=wrong_ids(q2), actor=cora)
    with pytest.raises(NotAllowed):
        services.answer_save(attempt=attempt, question=q1, choice_ids=[], actor=ContactFactory(organization=acme))
    submitted = services.attempt_submit(attempt=attempt, actor=cora)
    assert (submitted.correct_count, submitted.question_count, str(submitted.score)) == (1, 3, "33.33")
    assert Invitation.objects.filter(used_at=submitted.submitted_at).count() == 2
    assert AuditEvent.objects.get(action=Action.ATTEMPT_SUBMITTED).actor_id is None
    for token in (tokens[cora], reminder):
        assert refusal_after(acme, token, cora) == "completed"


def refusal_after(acme, token, actor):
    with pytest.raises(LinkUnusable) as refused:
        invited_attempt_start(invitation=link(acme, token), actor=actor)
    return refused.value.reason


def test_an_attempt_under_way_when_the_window_closes_takes_no_answer_and_is_submitted_by_beat(acme, cora, quiz):
    _assignment, tokens = make_assignment(quiz, people=[cora])
    attempt = invited_attempt_start(invitation=link(acme, tokens[cora]), actor=cora)
    q1, q2, _q3 = quiz.questions.all()
    services.answer_save(attempt=attempt, question=q1, choice_ids=correct_ids(q1), actor=cora)
    assert attempts_submit_overdue() == 0  # still open
    # The window closes (the deadline is never after it).
    Attempt.objects.filter(pk=attempt.pk).update(deadline_at=timezone.now() - timedelta(minutes=2))
    attempt.refresh_from_db()
    with pytest.raises(AttemptClosed, match="Time is up"):
        services.answer_save(attempt=attempt, question=q2, choice_ids=correct_ids(q2), actor=cora)
    assert attempts_submit_overdue() == 1
    attempt.refresh_from_db()
    assert attempt.is_submitted and attempt.correct_count == 1
    assert Invitation.objects.get().used_at == attempt.submitted_at
    assert attempts_submit_overdue() == 0


def test_opened_is_noted_once(acme, cora, quiz):
    _assignment, tokens = make_assignment(quiz, people=[cora])
    assert assignee_mark_opened(invitation=link(acme, tokens[cora]), actor=cora) is True
    first = Assignee.objects.get().opened_at
    assert assignee_mark_opened(invitation=link(acme, tokens[cora]), actor=cora) is False
    assert Assignee.objects.get().opened_at == first


# Races, on real PostgreSQL -------------------------------------------------------------------------


def test_two_submissions_at_once_through_the_link_record_one_attempt_and_one_score(postgres):  # noqa: F811
    acme = OrganizationFactory(slug="acme")
    cora = ContactFactory(organization=acme)
    quiz = make_questionnaire(acme, questions=2)
    _assignment, tokens = make_assignment(quiz, people=[cora])
    attempt = invited_attempt_start(invitation=link(acme, tokens[cora]), actor=cora)
    question = quiz.questions.first()
    services.answer_save(attempt=attempt, question=question, choice_ids=correct_ids(question), actor=cora)
    copies = [Attempt.objects.get(pk=attempt.pk) for _ in range(2)]
    results, waited = at_once(
        [lambda copy=copy: services.attempt_submit(attempt=copy, actor=cora) for copy in copies],
        f"SELECT 1 FROM {Attempt._meta.db_table} WHERE id = %s FOR UPDATE",
        [attempt.pk],
    )
    assert waited == 2, f"only {waited} of the 2 submissions waited: no race happened"
    winners = [result for result in results if isinstance(result, Attempt)]
    assert len(winners) == 1 and sum(isinstance(r, AttemptClosed) for r in results) == 1, results
    assert Attempt.objects.count() == 1
    attempt.refresh_from_db()
    assert str(attempt.score) == "50.00" and attempt.submitted_at == winners[0].submitted_at
    assert AuditEvent.objects.filter(action=Action.ATTEMPT_SUBMITTED).count() == 1
    assert Invitation.objects.get().used_at == attempt.submitted_at


def test_two_starts_at_once_through_two_links_make_one_attempt(postgres):  # noqa: F811
    acme = OrganizationFactory(slug="acme")
    bob = UserFactory(organization=acme)
    quiz = make_questionnaire(acme, questions=2)
    _assignment, tokens = make_assignment(quiz, people=[bob])
    assignee = Assignee.objects.get()
    reminder = add_link(assignee, is_reminder=True)
    invitations = [link(acme, tokens[bob]), link(acme, reminder)]
    results, waited = at_once(
        [
            lambda invitation=invitation: invited_attempt_start(invitation=invitation, actor=bob)
            for invitation in invitations
        ],
        f"SELECT 1 FROM {Assignee._meta.db_table} WHERE id = %s FOR UPDATE",
        [assignee.pk],
    )
    assert waited == 2, results
    assert all(isinstance(result, Attempt) for result in results), results
    assert results[0].pk == results[1].pk and Attempt.objects.count() == 1
    assert AuditEvent.objects.filter(action=Action.ATTEMPT_STARTED).count() == 1
