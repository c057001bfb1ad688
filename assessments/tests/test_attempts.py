"""Taking a questionnaire freely: who may start it (visibility all / groups / private, with membership
changes), answers saved as one goes, one submission and its score, the time limit; and the races
(two starts, two submissions at once) on real PostgreSQL."""

import os
import threading
import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from accounts.tests.factories import MembershipFactory, UserFactory
from assessments import services
from assessments.errors import AttemptClosed, NotAllowed, NotOpen
from assessments.models import Answer, Attempt, Questionnaire
from assessments.selectors import answers_of, attempt_of, my_questionnaires, questionnaires_open_to
from audit.models import Action, AuditEvent
from groups.services import group_remove_members

from .factories import correct_ids, make_questionnaire, wrong_ids

pytestmark = pytest.mark.django_db
Visibility = Questionnaire.Visibility


def start(questionnaire, user):
    return services.attempt_start(questionnaire=questionnaire, actor=user)


def answer(attempt, question, ids, user=None):
    return services.answer_save(attempt=attempt, question=question, choice_ids=ids, actor=user or attempt.user)


# Who may start what -------------------------------------------------------------------------------


def test_visibility_all_groups_and_private(acme, globex, bob, ines, otto, lyon, paris):
    everyone = make_questionnaire(acme, title="Everyone", visibility=Visibility.ALL)
    for_lyon = make_questionnaire(acme, title="Lyon", visibility=Visibility.GROUPS, groups=[lyon])
    private = make_questionnaire(acme, title="Private", visibility=Visibility.PRIVATE)
    draft = make_questionnaire(acme, title="Draft", visibility=Visibility.ALL, published=False)
    make_questionnaire(globex, title="Globex", visibility=Visibility.ALL)
    assert set(questionnaires_open_to(ines)) == {everyone, for_lyon}
    assert set(questionnaires_open_to(otto)) == {everyone}
    assert set(questionnaires_open_to(bob)) == {everyone}
    for questionnaire in (for_lyon, private, draft):
        with pytest.raises(NotOpen):
            start(questionnaire, otto)
    with pytest.raises(NotOpen, match="not published"):
        start(draft, ines)
    assert not Attempt.objects.exists()
    assert start(for_lyon, ines).user == ines


def test_visibility_follows_membership_at_once(alice, acme, ines, lyon, paris):
    for_lyon = make_questionnaire(acme, title="For Lyon", visibility=Visibility.GROUPS, groups=[lyon])
    other = make_questionnaire(acme, title="Also for Lyon", visibility=Visibility.GROUPS, groups=[lyon])
    attempt = start(for_lyon, ines)
    group_remove_members(group=lyon, users=[ines], actor=alice)
    # Gone from what she may start...
    assert not questionnaires_open_to(ines).exists()
    with pytest.raises(NotOpen):
        start(other, ines)
    assert [q.title for q in my_questionnaires(ines)] == ["For Lyon"]  # only her attempt in progress remains
    # ... but the attempt she started stays hers, to finish and submit.
    assert start(for_lyon, ines) == attempt
    assert attempt_of(ines, attempt.pk) == attempt
    question = for_lyon.questions.first()
    answer(attempt, question, correct_ids(question))
    services.attempt_submit(attempt=attempt, actor=ines)
    # Joining a group opens its questionnaires at once.
    MembershipFactory(group=paris, user=ines)
    for_paris = make_questionnaire(acme, title="For Paris", visibility=Visibility.GROUPS, groups=[paris])
    assert set(questionnaires_open_to(ines)) == {for_paris}


def test_changing_the_visibility_closes_it_to_those_who_have_not_started(alice, acme, ines, otto, lyon):
    questionnaire = make_questionnaire(acme, visibility=Visibility.ALL)
    attempt = start(questionnaire, otto)
    services.questionnaire_update(
        questionnaire=questionnaire, actor=alice, title="Safety basics", kind="evaluation", visibility="private"
    )
    with pytest.raises(NotOpen):
        start(questionnaire, ines)
    assert start(questionnaire, otto) == attempt
    services.questionnaire_unpublish(questionnaire=questionnaire, actor=alice)
    # Unpublished: nobody starts it; an attempt in progress may still be finished.
    answer(attempt, questionnaire.questions.first(), [])
    services.attempt_submit(attempt=attempt, actor=otto)


def test_my_questionnaires_lists_what_is_open_with_my_attempt(acme, bob):
    first = make_questionnaire(acme, title="A first", questions=2)
    second = make_questionnaire(acme, title="B second", questions=2)
    attempt = start(second, bob)
    for question in second.questions.all():
        answer(attempt, question, correct_ids(question))
    services.attempt_submit(attempt=attempt, actor=bob)
    rows = {row.title: row for row in my_questionnaires(bob)}
    assert rows["A first"].my_attempt_id is None and rows["A first"].question_count == 2
    assert rows["B second"].my_attempt_id == attempt.pk and rows["B second"].my_score == 100
    assert first in questionnaires_open_to(bob)


# Answers, submission, score -------------------------------------------------------------------------


def test_answers_are_saved_as_one_goes_and_a_second_save_replaces_the_first(acme, bob):
    questionnaire = make_questionnaire(acme, questions=2)
    attempt = start(questionnaire, bob)
    first, second = questionnaire.questions.all()
    answer(attempt, first, wrong_ids(first))
    answer(attempt, first, correct_ids(first))
    assert answers_of(attempt) == {first.pk: sorted(correct_ids(first))}
    assert Answer.objects.count() == 1
    # Starting again (a reload, another device) resumes the same attempt with its answers.
    again = start(questionnaire, bob)
    assert again == attempt and answers_of(again) == {first.pk: sorted(correct_ids(first))}
    answer(attempt, second, [])
    assert answers_of(attempt)[second.pk] == []


def test_an_answer_must_be_among_the_choices_of_a_question_of_the_attempt(acme, bob):
    questionnaire = make_questionnaire(acme, questions=2)
    elsewhere = make_questionnaire(acme, title="Other", questions=1)
    attempt = start(questionnaire, bob)
    first, second = questionnaire.questions.all()
    with pytest.raises(ValidationError):
        answer(attempt, first, correct_ids(second))
    with pytest.raises(ValidationError):
        answer(attempt, first, ["1"])
    with pytest.raises(NotAllowed):
        answer(attempt, elsewhere.questions.get(), correct_ids(elsewhere.questions.get()))
    assert not Answer.objects.exists()


def test_only_the_person_whose_attempt_it_is_answers_and_submits(acme, bob, ines):
    questionnaire = make_questionnaire(acme)
    attempt = start(questionnaire, bob)
    question = questionnaire.questions.first()
    with pytest.raises(NotAllowed):
        answer(attempt, question, correct_ids(question), user=ines)
    with pytest.raises(NotAllowed):
        services.attempt_submit(attempt=attempt, actor=ines)
    assert attempt_of(ines, attempt.pk) is None


def test_the_score_is_the_share_of_questions_answered_exactly_right(acme, bob):
    questionnaire = make_questionnaire(acme, questions=4)  # question 3 has two correct choices
    attempt = start(questionnaire, bob)
    q1, q2, q3, q4 = questionnaire.questions.all()
    answer(attempt, q1, correct_ids(q1))  # right
    answer(attempt, q2, correct_ids(q2) + wrong_ids(q2))  # a wrong choice too: wrong
    answer(attempt, q3, correct_ids(q3)[:1])  # half of the correct ones: wrong
    # q4 left unanswered: wrong
    submitted = services.attempt_submit(attempt=attempt, actor=bob)
    assert (submitted.correct_count, submitted.question_count, str(submitted.score)) == (1, 4, "25.00")
    attempt.refresh_from_db()
    assert attempt.submitted_at is not None and str(attempt.score) == "25.00"


def test_a_submitted_attempt_cannot_change(acme, bob):
    questionnaire = make_questionnaire(acme, questions=1)
    attempt = start(questionnaire, bob)
    question = questionnaire.questions.get()
    services.attempt_submit(attempt=attempt, actor=bob)
    with pytest.raises(AttemptClosed):
        answer(attempt, question, correct_ids(question))
    with pytest.raises(AttemptClosed):
        services.attempt_submit(attempt=attempt, actor=bob)
    attempt.refresh_from_db()
    assert attempt.score == 0 and not Answer.objects.exists()
    assert AuditEvent.objects.filter(action=Action.ATTEMPT_SUBMITTED).count() == 1
    # Starting again gives the submitted attempt back: one free attempt per person.
    assert start(questionnaire, bob) == attempt


def test_the_submission_is_conditional_in_the_database(acme, bob):
    """Even a caller holding an outdated copy of the attempt (no lock, no check) cannot submit it twice."""
    questionnaire = make_questionnaire(acme, questions=1)
    attempt = start(questionnaire, bob)
    stale = Attempt.objects.get(pk=attempt.pk)
    services.attempt_submit(attempt=attempt, actor=bob)
    with pytest.raises(AttemptClosed):
        services.attempt_submit(attempt=stale, actor=bob)
    assert AuditEvent.objects.filter(action=Action.ATTEMPT_SUBMITTED).count() == 1


def test_the_time_limit_is_fixed_at_the_start_and_closes_the_answers(alice, acme, bob):
    questionnaire = make_questionnaire(acme, questions=2, time_limit_minutes=10)
    attempt = start(questionnaire, bob)
    assert attempt.deadline_at == attempt.started_at + timedelta(minutes=10)
    services.questionnaire_update(
        questionnaire=questionnaire, actor=alice, title="Safety basics", kind="evaluation", time_limit_minutes=1,
        visibility="all",
    )  # fmt: skip
    attempt.refresh_from_db()
    assert attempt.deadline_at == attempt.started_at + timedelta(minutes=10)
    question = questionnaire.questions.first()
    # Within the grace after the limit an answer still counts; past it, it does not.
    Attempt.objects.filter(pk=attempt.pk).update(deadline_at=timezone.now() - timedelta(seconds=10))
    answer(attempt, question, correct_ids(question))
    Attempt.objects.filter(pk=attempt.pk).update(deadline_at=timezone.now() - timedelta(minutes=5))
    with pytest.raises(AttemptClosed, match="Time is up"):
        answer(attempt, question, wrong_ids(question))
    submitted = services.attempt_submit(attempt=attempt, actor=bob)
    assert submitted.correct_count == 1
    assert AuditEvent.objects.get(action=Action.ATTEMPT_SUBMITTED).after["time_up"] is True


# Races, on real PostgreSQL -------------------------------------------------------------------------


@pytest.fixture
def postgres(transactional_db):
    if connection.vendor != "postgresql":
        if os.environ.get("CI"):
            pytest.fail("Races are tested against PostgreSQL: CI must run them (DATABASE_URL=postgres://…).")
        pytest.skip("Races are tested against PostgreSQL (DATABASE_URL=postgres://…).")


def waiting() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def at_once(calls, hold_sql, params):
    """Run each call in its own thread (and connection) while this connection holds a lock taken by
    `hold_sql`; the lock goes once every call waits for it, so they all reach their write together.
    Returns each call's result or exception, and how many waited."""
    results = [None] * len(calls)

    def run(index):
        try:
            results[index] = calls[index]()
        except Exception as error:  # the test looks at what each call ended with
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(hold_sql, params)
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while waiting() < len(calls) and time.monotonic() < deadline:
            time.sleep(0.05)
        waited = waiting()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a call never finished (a deadlock?)"
    return results, waited


def test_two_submissions_at_once_record_one_submission_and_one_score(postgres):
    from accounts.tests.factories import OrganizationFactory

    acme = OrganizationFactory(slug="acme")
    bob = UserFactory(organization=acme)
    questionnaire = make_questionnaire(acme, questions=2)
    attempt = start(questionnaire, bob)
    question = questionnaire.questions.first()
    answer(attempt, question, correct_ids(question))
    copies = [Attempt.objects.get(pk=attempt.pk) for _ in range(2)]
    results, waited = at_once(
        [lambda copy=copy: services.attempt_submit(attempt=copy, actor=bob) for copy in copies],
        f"SELECT 1 FROM {Attempt._meta.db_table} WHERE id = %s FOR UPDATE",
        [attempt.pk],
    )
    assert waited == 2, f"only {waited} of the 2 submissions waited: no race happened"
    winners = [result for result in results if isinstance(result, Attempt)]
    losers = [result for result in results if isinstance(result, AttemptClosed)]
    assert len(winners) == 1 and len(losers) == 1, results
    attempt.refresh_from_db()
    assert attempt.submitted_at == winners[0].submitted_at and str(attempt.score) == "50.00"
    assert AuditEvent.objects.filter(action=Action.ATTEMPT_SUBMITTED).count() == 1


def test_an_answer_racing_a_submission_is_either_counted_or_refused(postgres):
    from accounts.tests.factories import OrganizationFactory

    acme = OrganizationFactory(slug="acme")
    bob = UserFactory(organization=acme)
    questionnaire = make_questionnaire(acme, questions=1)
    attempt = start(questionnaire, bob)
    question = questionnaire.questions.get()
    results, waited = at_once(
        [
            lambda: services.answer_save(
                attempt=Attempt.objects.get(pk=attempt.pk),
                question=question,
                choice_ids=correct_ids(question),
                actor=bob,
            ),
            lambda: services.attempt_submit(attempt=Attempt.objects.get(pk=attempt.pk), actor=bob),
        ],
        f"SELECT 1 FROM {Attempt._meta.db_table} WHERE id = %s FOR UPDATE",
        [attempt.pk],
    )
    assert waited == 2
    attempt.refresh_from_db()
    saved = isinstance(results[0], Answer)
    # Whichever went first, the score agrees with the answers kept: never an answer after the score.
    assert saved == Answer.objects.filter(attempt=attempt).exists()
    assert attempt.correct_count == (1 if saved else 0)
    if not saved:
        assert isinstance(results[0], AttemptClosed)


def test_two_starts_at_once_give_one_attempt(postgres):
    from accounts.tests.factories import OrganizationFactory

    acme = OrganizationFactory(slug="acme")
    bob = UserFactory(organization=acme)
    questionnaire = make_questionnaire(acme)
    results, waited = at_once(
        [lambda: start(Questionnaire.objects.get(pk=questionnaire.pk), bob) for _ in range(2)],
        # FOR UPDATE on the questionnaire: each insert's foreign key check waits behind it.
        f"SELECT 1 FROM {Questionnaire._meta.db_table} WHERE id = %s FOR UPDATE",
        [questionnaire.pk],
    )
    assert waited == 2, f"only {waited} of the 2 starts waited: no race happened"
    assert all(isinstance(result, Attempt) for result in results), results
    assert results[0].pk == results[1].pk
    assert Attempt.objects.count() == 1
    assert AuditEvent.objects.filter(action=Action.ATTEMPT_STARTED).count() == 1
