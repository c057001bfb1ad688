import pytest
from django.core.management import call_command

from accounts.models import Organization
from assessments.models import Questionnaire
from assessments.selectors import questionnaires_open_to
from groups.models import Membership

pytestmark = pytest.mark.django_db


def test_the_demo_has_questionnaires_to_take_once_only():
    call_command("seed_demo", "--users", "30", "--contacts", "0")
    call_command("seed_demo", "--users", "30", "--contacts", "0")
    demo = Organization.objects.get(slug="demo")
    questionnaires = Questionnaire.objects.for_org(demo)
    assert sorted(questionnaires.values_list("title", flat=True)) == [
        "Fire safety basics",
        "Welcome to the Lyon office",
    ]
    assert all(questionnaire.is_published and questionnaire.questions.exists() for questionnaire in questionnaires)
    member = Membership.objects.filter(organization=demo, group__name="Lyon", user__status="active").first().user
    assert set(questionnaires_open_to(member)) == set(questionnaires)
