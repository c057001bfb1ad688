"""Results reads (assessments.results): who was invited, opened, started, submitted, within the reader's
scope; one row per place in an invitation and per free attempt."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.tests.factories import ContactFactory, UserFactory
from assessments.models import Attempt
from assessments.results import (
    FREE,
    RowState,
    person_results,
    questionnaire_results,
    result_questionnaires,
    results_summary,
    rows_count,
    with_result_counts,
)
from assessments.tests.factories import AssigneeFactory, AssignmentFactory, make_questionnaire
from groups.tests.factories import grant
from rights.names import Right

pytestmark = pytest.mark.django_db


def attempt(person, questionnaire, *, assignee=None, score=None):
    fields = {"user": person} if person._meta.model_name == "user" else {"contact": person}
    submitted = score is not None
    return Attempt.objects.create(
        organization=questionnaire.organization,
        questionnaire=questionnaire,
        assignee=assignee,
        started_at=timezone.now() - timedelta(minutes=10),
        submitted_at=timezone.now() if submitted else None,
        score=Decimal(score) if submitted else None,
        correct_count=1 if submitted else None,
        question_count=2 if submitted else None,
        **fields,
    )


@pytest.fixture
def rita(acme, lyon):
    """Reads the results of Lyon only."""
    user = UserFactory(organization=acme, email="rita@acme.example", first_name="Rita", last_name="Reader")
    grant(user, Right.VIEW_RESULTS, lyon)
    return user


@pytest.fixture
def quiz(acme, alice, ines, otto, bob):
    """A private quiz: one invitation of Ines (submitted 50), Otto (opened), Bob (removed) and Carla, a
    contact (started); a second invitation of Ines only (not opened); Bob took it freely (100)."""
    quiz = make_questionnaire(acme, title="Fire drill", questions=2, visibility="private", created_by=alice)
    first = AssignmentFactory(questionnaire=quiz)
    carla = ContactFactory(organization=acme, first_name="Carla", last_name="Contact")
    places = {
        "ines": AssigneeFactory(assignment=first, user=ines),
        "otto": AssigneeFactory(assignment=first, user=otto, opened_at=timezone.now()),
        "bob": AssigneeFactory(assignment=first, user=bob, removed_at=timezone.now()),
        "carla": AssigneeFactory(assignment=first, contact=carla),
    }
    attempt(ines, quiz, assignee=places["ines"], score=50)
    attempt(carla, quiz, assignee=places["carla"])
    second = AssignmentFactory(questionnaire=quiz, opens_at=timezone.now() + timedelta(days=2))
    AssigneeFactory(assignment=second, user=ines)
    attempt(bob, quiz, score=100)
    quiz.first, quiz.second, quiz.carla = first, second, carla
    return quiz


def names(rows):
    return [(row["first"], row["state"]) for row in rows]


def test_an_administrator_sees_every_place_and_free_attempt(alice, quiz):
    rows = list(questionnaire_results(alice, quiz))
    assert sorted(names(rows)) == sorted(
        [
            ("Ines", RowState.SUBMITTED),
            ("Otto", RowState.OPENED),
            ("Bob", RowState.REMOVED),
            ("Carla", RowState.STARTED),
            ("Ines", RowState.INVITED),
            ("Bob", RowState.SUBMITTED),
        ]
    )
    ines_row = next(row for row in rows if row["state"] == RowState.SUBMITTED and row["first"] == "Ines")
    assert ines_row["result"] == Decimal("50.00") and ines_row["asked"] == 2 and ines_row["kind"] == "invited"
    assert ines_row["assignment_no"] == quiz.first.pk and ines_row["invited_at"] is not None
    free = next(row for row in rows if row["kind"] == FREE)
    assert (free["first"], free["result"], free["assignment_no"]) == ("Bob", Decimal("100.00"), None)


def test_a_group_scoped_reader_sees_only_their_groups_members_and_no_contact(rita, quiz):
    assert sorted(names(questionnaire_results(rita, quiz))) == [
        ("Ines", RowState.INVITED),
        ("Ines", RowState.SUBMITTED),
    ]
    summary = results_summary(rita, quiz)
    assert (summary["invited"], summary["started"], summary["submitted"], summary["free_started"]) == (2, 1, 1, 0)
    assert summary["average"] == Decimal("50")


def test_nobody_without_the_right_sees_anything(bob, maggie, quiz):
    for actor in (bob, maggie):
        assert not questionnaire_results(actor, quiz).exists()
        assert not result_questionnaires(actor).exists()
        assert results_summary(actor, quiz)["invited"] == 0


def test_a_questionnaire_is_reachable_by_its_sharing_or_by_someone_in_scope(acme, alice, rita, lyon, paris, quiz):
    shown_to_lyon = make_questionnaire(acme, title="Lyon quiz", visibility="groups", groups=[lyon])
    shown_to_paris = make_questionnaire(acme, title="Paris quiz", visibility="groups", groups=[paris])
    assert set(result_questionnaires(rita)) == {quiz, shown_to_lyon}
    assert set(result_questionnaires(alice)) == {quiz, shown_to_lyon, shown_to_paris}


def test_filters_by_invitation_and_state_and_sorts(alice, quiz):
    only_second = questionnaire_results(alice, quiz, assignment=quiz.second)
    assert names(only_second) == [("Ines", RowState.INVITED)]
    assert names(questionnaire_results(alice, quiz, assignment=FREE)) == [("Bob", RowState.SUBMITTED)]
    assert [row["first"] for row in questionnaire_results(alice, quiz, state=RowState.SUBMITTED, sort="-score")] == [
        "Bob",
        "Ines",
    ]
    by_score = [row["result"] for row in questionnaire_results(alice, quiz, sort="score")]
    assert by_score[:2] == [Decimal("50.00"), Decimal("100.00")] and by_score[2:] == [None] * 4  # empty ones last
    by_name = [row["last"] for row in questionnaire_results(alice, quiz, sort="name")]
    assert by_name == sorted(by_name)


def test_summary_counts_the_steps(alice, quiz):
    summary = results_summary(alice, quiz)
    assert summary == {
        "invited": 4,  # Ines twice, Otto, Carla (Bob was removed)
        "removed": 1,
        "opened": 3,  # Otto opened; Ines and Carla started
        "started": 2,
        "submitted": 1,
        "free_started": 1,
        "free_submitted": 1,
        "average": Decimal("75"),
    }


def test_counts_per_questionnaire_are_within_scope(alice, rita, quiz):
    counted = with_result_counts(result_questionnaires(rita), rita).get(pk=quiz.pk)
    assert (counted.invited_count, counted.started_count, counted.submitted_count) == (2, 1, 1)
    counted = with_result_counts(result_questionnaires(alice), alice).get(pk=quiz.pk)
    assert (counted.invited_count, counted.started_count, counted.submitted_count) == (4, 3, 2)


def test_a_persons_results_list_their_invitations_and_free_attempts(alice, rita, bob, ines, quiz):
    assert sorted(names(person_results(alice, user=ines))) == [("Ines", "invited"), ("Ines", "submitted")]
    assert sorted(names(person_results(alice, user=bob))) == [("Bob", "removed"), ("Bob", "submitted")]
    assert names(person_results(alice, contact=quiz.carla)) == [("Carla", "started")]
    assert not person_results(rita, user=bob).exists()
    assert not person_results(rita, contact=quiz.carla).exists()
    assert {row["title"] for row in person_results(rita, user=ines)} == {"Fire drill"}


@pytest.mark.parametrize("assignment", [None, "first", "second", FREE])
def test_the_row_count_of_each_state_follows_from_the_summary(alice, rita, quiz, assignment):
    chosen = getattr(quiz, assignment) if assignment in ("first", "second") else assignment
    for actor in (alice, rita):
        summary = results_summary(actor, quiz, assignment=chosen)
        for state in ["", *(value for value, _label in RowState.choices)]:
            rows = questionnaire_results(actor, quiz, assignment=chosen, state=state)
            assert rows_count(summary, state) == rows.count(), (actor, state)
