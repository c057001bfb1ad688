"""Questionnaire and question services: every rule, every refusal, and the scope of manage_questionnaires."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from accounts.tests.factories import ContactFactory, UserFactory
from assessments import services
from assessments.errors import Gone, NotAllowed, QuestionnaireLocked
from assessments.models import Assignment, Attempt, Choice, Question, Questionnaire
from assessments.selectors import questionnaires_in_scope
from assessments.services import ChoiceSpec
from audit.models import Action, AuditEvent
from groups.tests.factories import grant
from rights.names import Right

from .factories import make_questionnaire

pytestmark = pytest.mark.django_db
Visibility = Questionnaire.Visibility
RIGHT = Right.MANAGE_QUESTIONNAIRES


@pytest.fixture
def quinn(acme, lyon):
    """Manages the questionnaires of Lyon only."""
    user = UserFactory(organization=acme, email="quinn@acme.example", first_name="Quinn", last_name="Lyontrainer")
    grant(user, RIGHT, lyon)
    return user


@pytest.fixture
def wendy(acme):
    """Manages the questionnaires of all users (no administrator)."""
    user = UserFactory(organization=acme, email="wendy@acme.example", first_name="Wendy", last_name="Wide")
    grant(user, RIGHT, everyone=True)
    return user


def choices(*texts, correct=(0,)):
    return [ChoiceSpec(text, index in correct) for index, text in enumerate(texts)]


def create(actor, organization, **fields):
    values = {"title": "Fire safety", "kind": "evaluation", "visibility": Visibility.PRIVATE} | fields
    return services.questionnaire_create(organization=organization, actor=actor, **values)


def started(questionnaire, user):
    return Attempt.objects.create(
        organization=questionnaire.organization, questionnaire=questionnaire, user=user, started_at=timezone.now()
    )


# Creating and changing -----------------------------------------------------------------------------


def test_an_administrator_creates_a_questionnaire_unpublished_and_audited(alice, acme, lyon, paris):
    questionnaire = create(
        alice,
        acme,
        title="  Fire safety ",
        kind="training",
        instructions="Read carefully.",
        time_limit_minutes=20,
        visibility=Visibility.GROUPS,
        groups=[lyon, paris],
    )
    assert questionnaire.title == "Fire safety" and not questionnaire.is_published
    assert questionnaire.created_by == alice
    assert set(questionnaire.groups.all()) == {lyon, paris}
    event = AuditEvent.objects.get(action=Action.QUESTIONNAIRE_CREATED)
    assert event.after["groups"] == "Lyon, Paris" and event.after["time_limit_minutes"] == 20


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"kind": "quiz"}, "kind"),
        ({"visibility": "friends"}, "visibility"),
        ({"time_limit_minutes": 0}, "time_limit_minutes"),
        ({"time_limit_minutes": 24 * 60 + 1}, "time_limit_minutes"),
        ({"visibility": Visibility.GROUPS, "groups": []}, "groups"),
    ],
)
def test_bad_settings_are_refused_naming_the_field_and_nothing_is_written(alice, acme, fields, field):
    with pytest.raises(ValidationError) as caught:
        create(alice, acme, **fields)
    assert field in caught.value.message_dict
    assert not Questionnaire.objects.exists() and not AuditEvent.objects.exists()


def test_groups_are_kept_only_for_the_groups_visibility(alice, acme, lyon):
    questionnaire = create(alice, acme, visibility=Visibility.GROUPS, groups=[lyon])
    services.questionnaire_update(
        questionnaire=questionnaire, actor=alice, title="Fire safety", kind="evaluation", visibility=Visibility.ALL
    )
    assert not questionnaire.groups.exists()


def test_a_plain_user_and_another_tenant_may_not_create_or_change(bob, mallory, acme, alice):
    with pytest.raises(NotAllowed):
        create(bob, acme)
    with pytest.raises(NotAllowed):
        create(mallory, acme)
    questionnaire = create(alice, acme)
    for actor in (bob, mallory):
        with pytest.raises(NotAllowed):
            services.questionnaire_update(questionnaire=questionnaire, actor=actor, title="Mine", kind="evaluation")
        with pytest.raises(NotAllowed):
            services.questionnaire_delete(questionnaire=questionnaire, actor=actor)


def test_a_group_scoped_holder_shows_questionnaires_to_their_groups_only(quinn, acme, lyon, paris):
    with pytest.raises(NotAllowed):
        create(quinn, acme, visibility=Visibility.ALL)
    with pytest.raises(NotAllowed):
        create(quinn, acme, visibility=Visibility.GROUPS, groups=[lyon, paris])
    mine = create(quinn, acme, visibility=Visibility.GROUPS, groups=[lyon])
    assert list(mine.groups.all()) == [lyon]
    assert not Questionnaire.objects.exclude(pk=mine.pk).exists()


def test_a_scoped_holder_editing_keeps_the_groups_outside_their_scope(alice, quinn, acme, lyon, paris):
    quinn_scope = {lyon.pk}
    shared = create(alice, acme, visibility=Visibility.GROUPS, groups=[lyon, paris])
    # Quinn sees only Lyon: saving without Paris must not take it away from Paris.
    services.questionnaire_update(
        questionnaire=shared, actor=quinn, title="Renamed", kind="training", visibility=Visibility.GROUPS, groups=[lyon]
    )
    assert {g.pk for g in shared.groups.all()} == quinn_scope | {paris.pk}
    with pytest.raises(NotAllowed):
        services.questionnaire_update(
            questionnaire=shared, actor=quinn, title="Renamed", kind="training", visibility=Visibility.PRIVATE
        )
    with pytest.raises(NotAllowed):
        services.questionnaire_update(
            questionnaire=shared, actor=quinn, title="Renamed", kind="training", visibility=Visibility.ALL
        )
    assert shared.groups.count() == 2


def test_scope_of_manage_questionnaires(alice, quinn, wendy, bob, mallory, acme, globex, lyon, paris):
    everyone = make_questionnaire(acme, title="Everyone", visibility=Visibility.ALL)
    for_lyon = make_questionnaire(acme, title="For Lyon", visibility=Visibility.GROUPS, groups=[lyon])
    for_both = make_questionnaire(acme, title="For both", visibility=Visibility.GROUPS, groups=[lyon, paris])
    for_paris = make_questionnaire(acme, title="For Paris", visibility=Visibility.GROUPS, groups=[paris])
    private = make_questionnaire(acme, title="Private", visibility=Visibility.PRIVATE)
    quinns = make_questionnaire(acme, title="Quinn's draft", visibility=Visibility.PRIVATE, created_by=quinn)
    make_questionnaire(globex, title="Globex")
    everything = {everyone, for_lyon, for_both, for_paris, private, quinns}
    assert set(questionnaires_in_scope(alice)) == everything
    assert set(questionnaires_in_scope(wendy)) == everything
    assert set(questionnaires_in_scope(quinn)) == {for_lyon, for_both, quinns}
    assert not questionnaires_in_scope(bob).exists()
    assert set(questionnaires_in_scope(mallory)) == {Questionnaire.objects.get(title="Globex")}
    # Scope follows the grant at once: Quinn's right over Lyon withdrawn, only her own remains.
    quinn.grants.all().delete()
    assert not questionnaires_in_scope(quinn).exists()


def test_out_of_scope_questionnaires_are_refused_to_a_scoped_holder(quinn, acme, paris):
    for_paris = make_questionnaire(acme, visibility=Visibility.GROUPS, groups=[paris], published=False)
    with pytest.raises(NotAllowed):
        services.questionnaire_publish(questionnaire=for_paris, actor=quinn)
    with pytest.raises(NotAllowed):
        services.question_create(questionnaire=for_paris, actor=quinn, text="Q?", choices=choices("A", "B"))
    question = for_paris.questions.first()
    with pytest.raises(NotAllowed):
        services.question_update(question=question, actor=quinn, text="Q?", choices=choices("A", "B"))
    with pytest.raises(NotAllowed):
        services.question_delete(question=question, actor=quinn)
    with pytest.raises(NotAllowed):
        services.question_move(question=question, actor=quinn, up=False)


# Publishing and deleting ---------------------------------------------------------------------------


def test_publish_needs_a_question_and_unpublish_follows(alice, acme):
    questionnaire = create(alice, acme)
    with pytest.raises(ValidationError, match="at least one question"):
        services.questionnaire_publish(questionnaire=questionnaire, actor=alice)
    services.question_create(questionnaire=questionnaire, actor=alice, text="Q?", choices=choices("A", "B"))
    services.questionnaire_publish(questionnaire=questionnaire, actor=alice)
    services.questionnaire_publish(questionnaire=questionnaire, actor=alice)  # already: no second event
    questionnaire.refresh_from_db()
    assert questionnaire.is_published
    services.questionnaire_unpublish(questionnaire=questionnaire, actor=alice)
    questionnaire.refresh_from_db()
    assert not questionnaire.is_published
    actions = list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))
    assert actions == [
        Action.QUESTIONNAIRE_CREATED,
        Action.QUESTION_CREATED,
        Action.QUESTIONNAIRE_PUBLISHED,
        Action.QUESTIONNAIRE_UNPUBLISHED,
    ]


def test_a_questionnaire_nobody_started_is_deleted_with_its_questions(alice, acme):
    questionnaire = make_questionnaire(acme, questions=2)
    services.questionnaire_delete(questionnaire=questionnaire, actor=alice)
    assert not Questionnaire.objects.exists() and not Question.objects.exists() and not Choice.objects.exists()
    assert AuditEvent.objects.get().action == Action.QUESTIONNAIRE_DELETED


def test_a_questionnaire_with_attempts_keeps_its_results(alice, bob, acme):
    questionnaire = make_questionnaire(acme)
    started(questionnaire, bob)
    with pytest.raises(QuestionnaireLocked, match="unpublish it instead"):
        services.questionnaire_delete(questionnaire=questionnaire, actor=alice)
    # The database says the same to any code that would try.
    with pytest.raises(ProtectedError), transaction.atomic():
        questionnaire.delete()
    assert Questionnaire.objects.filter(pk=questionnaire.pk).exists()


def test_a_questionnaire_people_were_invited_to_keeps_its_invitations(alice, bob, acme):
    from invitations.models import InvitationBatch

    questionnaire = make_questionnaire(acme)
    now = timezone.now()
    Assignment.objects.create(
        organization=acme,
        questionnaire=questionnaire,
        opens_at=now,
        closes_at=now + timedelta(days=1),
        send_at=now,
        batch=InvitationBatch.objects.create(organization=acme),
    )
    with pytest.raises(QuestionnaireLocked, match="1 invitation.*unpublish it instead"):
        services.questionnaire_delete(questionnaire=questionnaire, actor=alice)
    assert Questionnaire.objects.filter(pk=questionnaire.pk).exists() and not AuditEvent.objects.exists()


# Questions -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "given", "field", "message"),
    [
        ("", choices("A", "B"), "text", "Write the question"),
        ("Q?", choices("A"), "choices", "at least two choices"),
        ("Q?", choices("A", "  ", "   "), "choices", "at least two choices"),
        ("Q?", choices("A", "B", correct=()), "choices", "at least one choice as correct"),
        ("Q?", choices(*(f"C{n}" for n in range(21))), "choices", "at most 20 choices"),
    ],
)
def test_a_question_that_cannot_be_asked_is_refused(alice, acme, text, given, field, message):
    questionnaire = create(alice, acme)
    with pytest.raises(ValidationError) as caught:
        services.question_create(questionnaire=questionnaire, actor=alice, text=text, choices=given)
    assert message in " ".join(caught.value.message_dict[field])
    assert not Question.objects.exists()


def test_questions_are_ordered_edited_moved_and_deleted(alice, acme):
    questionnaire = create(alice, acme)
    first = services.question_create(questionnaire=questionnaire, actor=alice, text="One?", choices=choices("A", "B"))
    second = services.question_create(
        questionnaire=questionnaire, actor=alice, text="Two?", choices=choices("A", "", "B", "C", correct=(2, 3))
    )
    assert [c.text for c in second.choices.all()] == ["A", "B", "C"]
    assert [c.is_correct for c in second.choices.all()] == [False, True, True]
    services.question_move(question=second, actor=alice, up=True)
    assert list(questionnaire.questions.values_list("text", flat=True)) == ["Two?", "One?"]
    services.question_move(question=second, actor=alice, up=True)  # first already: nothing moves
    services.question_update(question=first, actor=alice, text="One, again?", choices=choices("Yes", "No"))
    first.refresh_from_db()
    assert first.text == "One, again?" and [c.text for c in first.choices.all()] == ["Yes", "No"]
    services.question_delete(question=second, actor=alice)
    assert list(questionnaire.questions.values_list("text", flat=True)) == ["One, again?"]
    moved = AuditEvent.objects.get(action=Action.QUESTION_MOVED)
    assert (moved.before, moved.after) == ({"question": 2}, {"question": 1, "text": "Two?"})


def test_the_last_question_of_a_published_questionnaire_stays(alice, acme):
    questionnaire = make_questionnaire(acme, questions=1)
    with pytest.raises(ValidationError, match="unpublish it first"):
        services.question_delete(question=questionnaire.questions.get(), actor=alice)
    assert questionnaire.questions.count() == 1


def test_questions_no_longer_change_once_someone_started(alice, bob, acme):
    questionnaire = make_questionnaire(acme, questions=2)
    started(questionnaire, bob)
    question = questionnaire.questions.first()
    calls = [
        lambda: services.question_create(
            questionnaire=questionnaire, actor=alice, text="Q?", choices=choices("A", "B")
        ),
        lambda: services.question_update(question=question, actor=alice, text="Q?", choices=choices("A", "B")),
        lambda: services.question_delete(question=question, actor=alice),
        lambda: services.question_move(question=question, actor=alice, up=False),
    ]
    for call in calls:
        with pytest.raises(QuestionnaireLocked):
            call()
    assert questionnaire.questions.count() == 2
    # The settings may still change.
    services.questionnaire_update(questionnaire=questionnaire, actor=alice, title="Renamed", kind="training")


# The database's own rules ------------------------------------------------------------------------


def test_an_attempt_belongs_to_a_user_or_a_contact_never_both_nor_neither(acme, bob):
    questionnaire = make_questionnaire(acme)
    contact = ContactFactory(organization=acme)
    for person in ({}, {"user": bob, "contact": contact}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Attempt.objects.create(organization=acme, questionnaire=questionnaire, started_at=timezone.now(), **person)
    Attempt.objects.create(organization=acme, questionnaire=questionnaire, contact=contact, started_at=timezone.now())


def test_the_database_keeps_one_attempt_per_invitation_and_one_free_attempt_per_user(acme, bob):
    from invitations.models import Invitation

    questionnaire = make_questionnaire(acme)
    started(questionnaire, bob)
    with pytest.raises(IntegrityError), transaction.atomic():
        started(questionnaire, bob)
    contact = ContactFactory(organization=acme)
    invitation = Invitation.objects.create(
        organization=acme, kind=Invitation.Kind.ASSESSMENT, contact=contact, channel="email", address=contact.email
    )
    Attempt.objects.create(
        organization=acme,
        questionnaire=questionnaire,
        contact=contact,
        invitation=invitation,
        started_at=timezone.now(),
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Attempt.objects.create(
            organization=acme,
            questionnaire=questionnaire,
            contact=contact,
            invitation=invitation,
            started_at=timezone.now(),
        )


def test_a_submitted_attempt_always_has_its_score(acme, bob):
    attempt = started(make_questionnaire(acme), bob)
    with pytest.raises(IntegrityError), transaction.atomic():
        Attempt.objects.filter(pk=attempt.pk).update(submitted_at=timezone.now())


def test_a_scoped_holders_own_questionnaire_shown_to_all_by_an_administrator_stays_so(alice, quinn, acme):
    mine = create(quinn, acme, visibility=Visibility.PRIVATE)
    services.questionnaire_update(questionnaire=mine, actor=alice, title="Mine", kind="evaluation", visibility="all")
    # Quinn may keep it as it is while changing something else, not set it to all herself.
    services.questionnaire_update(
        questionnaire=mine, actor=quinn, title="Mine, renamed", kind="training", visibility="all"
    )
    services.questionnaire_update(questionnaire=mine, actor=quinn, title="Mine", kind="training", visibility="private")
    with pytest.raises(NotAllowed):
        services.questionnaire_update(questionnaire=mine, actor=quinn, title="Mine", kind="training", visibility="all")


def test_acting_on_a_questionnaire_deleted_meanwhile_says_so(alice, acme):
    questionnaire = make_questionnaire(acme, questions=2, published=False)
    stale = Questionnaire.objects.get(pk=questionnaire.pk)
    services.questionnaire_delete(questionnaire=questionnaire, actor=alice)
    calls = [
        lambda: services.questionnaire_delete(questionnaire=stale, actor=None),
        lambda: services.questionnaire_publish(questionnaire=stale, actor=None),
        lambda: services.questionnaire_update(questionnaire=stale, actor=None, title="T", kind="evaluation"),
        lambda: services.question_create(questionnaire=stale, actor=None, text="Q?", choices=choices("A", "B")),
    ]
    for call in calls:
        with pytest.raises(Gone, match="deleted meanwhile"):
            call()


def test_acting_on_a_question_removed_meanwhile_says_so(alice, acme):
    questionnaire = make_questionnaire(acme, questions=2, published=False)
    question = questionnaire.questions.first()
    services.question_delete(question=question, actor=alice)
    for call in (
        lambda: services.question_delete(question=question, actor=alice),
        lambda: services.question_update(question=question, actor=alice, text="Q?", choices=choices("A", "B")),
        lambda: services.question_move(question=question, actor=alice, up=False),
    ):
        with pytest.raises(Gone, match="removed meanwhile"):
            call()
    assert AuditEvent.objects.filter(action=Action.QUESTION_DELETED).count() == 1
