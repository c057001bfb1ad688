"""Questionnaires for tests, made directly (the services are what the tests check)."""

import factory

from accounts.tests.factories import OrganizationFactory
from assessments.models import Choice, Question, Questionnaire, QuestionnaireGroup


class QuestionnaireFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Questionnaire

    organization = factory.SubFactory(OrganizationFactory)
    title = factory.Sequence(lambda n: f"Questionnaire {n}")


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
