"""Questionnaires for tests, made directly (the services are what the tests check)."""

from datetime import timedelta

import factory
from django.utils import timezone

from accounts.tests.factories import OrganizationFactory
from assessments.models import Assignee, Assignment, Choice, Question, Questionnaire, QuestionnaireGroup
from invitations.models import Invitation, InvitationBatch
from invitations.tokens import hash_token, make_token


class QuestionnaireFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Questionnaire

    organization = factory.SubFactory(OrganizationFactory)
    title = factory.Sequence(lambda n: f"Questionnaire {n}")


class AssignmentFactory(factory.django.DjangoModelFactory):
    """An assessment invitation of `questionnaire`, open from now for a day, with its batch."""

    class Meta:
        model = Assignment

    questionnaire = factory.SubFactory(QuestionnaireFactory)
    organization = factory.SelfAttribute("questionnaire.organization")
    opens_at = factory.LazyFunction(timezone.now)
    closes_at = factory.LazyAttribute(lambda o: o.opens_at + timedelta(days=1))
    send_at = factory.SelfAttribute("opens_at")
    batch = factory.LazyAttribute(lambda o: InvitationBatch.objects.create(organization=o.organization))


class AssigneeFactory(factory.django.DjangoModelFactory):
    """A person's place in `assignment`: pass `user=` or `contact=`."""

    class Meta:
        model = Assignee

    assignment = factory.SubFactory(AssignmentFactory)
    organization = factory.SelfAttribute("assignment.organization")
    added_at = factory.LazyFunction(timezone.now)


def make_questionnaire(
    organization,
    *,
    title="Safety basics",
    questions=3,
    visibility=Questionnaire.Visibility.ALL,
    groups=(),
    published=True,
    created_by=None,
    **fields,
) -> Questionnaire:
    """A questionnaire of `questions` questions: question n has choices "Right n" (correct) and
    "Wrong n"; every third question has a second correct choice "Also right n"."""
    questionnaire = QuestionnaireFactory(
        organization=organization,
        title=title,
        visibility=visibility,
        is_published=published,
        created_by=created_by,
        **fields,
    )
    for group in groups:
        QuestionnaireGroup.objects.create(organization=organization, questionnaire=questionnaire, group=group)
    for number in range(1, questions + 1):
        question = Question.objects.create(
            organization=organization, questionnaire=questionnaire, position=number, text=f"Question {number}?"
        )
        Choice.objects.create(
            organization=organization, question=question, position=1, text=f"Right {number}", is_correct=True
        )
        Choice.objects.create(organization=organization, question=question, position=2, text=f"Wrong {number}")
        if number % 3 == 0:
            Choice.objects.create(
                organization=organization, question=question, position=3, text=f"Also right {number}", is_correct=True
            )
    return questionnaire


def correct_ids(question) -> list[int]:
    return list(question.choices.filter(is_correct=True).values_list("pk", flat=True))


def wrong_ids(question) -> list[int]:
    return list(question.choices.filter(is_correct=False).values_list("pk", flat=True))


def make_assignment(questionnaire, *, people=(), opens_at=None, closes_at=None, created_by=None):
    """An assessment invitation made directly (rows, no service): the window (open from a minute ago
    for a day by default), its batch, and for each of `people` (users or contacts) a place and a sent
    link. Returns (assignment, {person: token})."""
    now = timezone.now()
    opens_at = opens_at or now - timedelta(minutes=1)
    closes_at = closes_at or opens_at + timedelta(days=1)
    organization = questionnaire.organization
    batch = InvitationBatch.objects.create(organization=organization, created_by=created_by, label=questionnaire.title)
    assignment = Assignment.objects.create(
        organization=organization,
        questionnaire=questionnaire,
        opens_at=opens_at,
        closes_at=closes_at,
        send_at=now,
        batch=batch,
        created_by=created_by,
    )
    tokens = {}
    for person in people:
        assignee = add_assignee(assignment, person, added_by=created_by)
        tokens[person] = add_link(assignee)
    return assignment, tokens


def add_assignee(assignment, person, *, added_by=None) -> Assignee:
    field = "contact" if person._meta.model_name == "contact" else "user"
    return Assignee.objects.create(
        organization=assignment.organization,
        assignment=assignment,
        added_at=timezone.now(),
        added_by=added_by,
        **{field: person},
    )


def add_link(assignee, *, is_reminder=False) -> str:
    """A sent link (message) for `assignee`'s place; returns its token."""
    person = assignee.person
    token = make_token()
    Invitation.objects.create(
        organization=assignee.organization,
        kind=Invitation.Kind.ASSESSMENT,
        user=assignee.user,
        contact=assignee.contact,
        channel="email",
        address=person.email or "someone@example.com",
        is_reminder=is_reminder,
        token_hash=hash_token(token),
        expires_at=assignee.assignment.closes_at,
        delivery=Invitation.Delivery.SENT,
        sent_at=timezone.now(),
        batch=assignee.assignment.batch,
        created_by=assignee.added_by,
    )
    return token
