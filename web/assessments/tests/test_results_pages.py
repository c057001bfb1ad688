"""The results pages: wiring, scope, filters, exports, queries per page. (Every URL is also walked by the
access matrix with other tenants' and out-of-scope ids: web/tests/access.py.)"""

import csv
import datetime
import html
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import ContactFactory, MembershipFactory, UserFactory
from assessments.models import Attempt
from assessments.tests.factories import AssigneeFactory, AssignmentFactory, make_questionnaire
from audit.models import Action, AuditEvent
from groups.tests.factories import grant
from rights.names import Right

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return html.unescape(response.content.decode())


def submitted(person, quiz, assignee=None, score="50"):
    fields = {"user": person} if person._meta.model_name == "user" else {"contact": person}
    return Attempt.objects.create(
        organization=quiz.organization,
        questionnaire=quiz,
        assignee=assignee,
        started_at=timezone.now() - timedelta(minutes=5),
        submitted_at=timezone.now(),
        score=Decimal(score),
        correct_count=1,
        question_count=2,
        **fields,
    )


@pytest.fixture
def rita(acme, lyon):
    user = UserFactory(organization=acme, email="rita@acme.example", first_name="Rita", last_name="Reader")
    grant(user, Right.VIEW_RESULTS, lyon)
    return user


@pytest.fixture
def quiz(acme, alice, ines, otto):
    """Ines (Lyon) submitted 50 through an invitation; Otto (Paris) and a contact are invited too."""
    quiz = make_questionnaire(acme, title="Fire drill", questions=2, visibility="private", created_by=alice)
    assignment = AssignmentFactory(questionnaire=quiz)
    submitted(ines, quiz, AssigneeFactory(assignment=assignment, user=ines))
    AssigneeFactory(assignment=assignment, user=otto)
    carla = ContactFactory(organization=acme, first_name="Carla", last_name="Candidate", email="carla@example.org")
    AssigneeFactory(assignment=assignment, contact=carla)
    quiz.assignment, quiz.carla = assignment, carla
    return quiz


def test_an_administrator_sees_everyone_invited_with_counts(alice_client, quiz):
    response = alice_client.get(f"/results/questionnaires/{quiz.pk}/")
    assert response.status_code == 200
    page = text(response)
    for name in ("Ines Inscope", "Otto Outscope", "Carla Candidate", "50 %", "(1/2)"):
        assert name in page
    summary = response.context["summary"]
    assert (summary["invited"], summary["started"], summary["submitted"]) == (3, 1, 1)


def test_a_group_scoped_reader_sees_their_groups_members_only(rita, make_client, quiz):
    client = make_client(rita.organization, rita)
    page = text(client.get(f"/results/questionnaires/{quiz.pk}/"))
    assert "Ines Inscope" in page
    assert "Otto Outscope" not in page and "Carla Candidate" not in page
    assert "Fire drill" in text(client.get("/results/"))
    assert (
        client.get(f"/results/users/{quiz.assignment.assignees.get(user__first_name='Otto').user_id}/").status_code
        == 404
    )
    assert client.get(f"/results/contacts/{quiz.carla.pk}/").status_code == 404


def test_without_the_right_the_pages_are_refused(bob_client, maggie_client, quiz):
    for client in (bob_client, maggie_client):
        assert client.get("/results/").status_code == 403
        assert client.get(f"/results/questionnaires/{quiz.pk}/").status_code == 403


def test_filters_sort_and_a_bad_filter_is_a_warning(alice_client, quiz, acme):
    other = AssignmentFactory(questionnaire=quiz, opens_at=timezone.now() + timedelta(days=3))
    AssigneeFactory(assignment=other, user=UserFactory(organization=acme, first_name="Lena", last_name="Later"))
    page = text(alice_client.get(f"/results/questionnaires/{quiz.pk}/?assignment={other.pk}"))
    assert "Lena Later" in page and "Ines Inscope" not in page
    page = text(alice_client.get(f"/results/questionnaires/{quiz.pk}/?state=submitted"))
    assert "Ines Inscope" in page and "Otto Outscope" not in page
    response = alice_client.get(f"/results/questionnaires/{quiz.pk}/?state=bogus&assignment=999999&sort=-score")
    assert response.status_code == 200
    assert "Some filters were not understood" in text(response)
    assert [row["first"] for row in response.context["rows"]][0] == "Ines"  # scored first, the others after


def test_export_csv_is_formula_safe_and_recorded(alice_client, quiz, acme):
    evil = ContactFactory(organization=acme, first_name="=HYPERLINK(1)", last_name="+Evil", email="evil@example.org")
    AssigneeFactory(assignment=quiz.assignment, contact=evil)
    response = alice_client.get(f"/results/questionnaires/{quiz.pk}/export/csv/?state=invited")
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:2] == ["Last name", "First name"]
    evil_row = next(row for row in rows if "evil@example.org" in row)
    assert evil_row[:2] == ["'+Evil", "'=HYPERLINK(1)"]
    assert {row[8] for row in rows[1:]} == {"Invited, link not opened"}
    event = AuditEvent.objects.get(action=Action.EXPORT_DOWNLOADED)
    assert event.after["list"] == "results" and event.after["rows"] == 3
    assert event.target_id == quiz.pk


def test_export_xlsx_keeps_values_as_text(alice_client, quiz, acme):
    from openpyxl import load_workbook

    evil = ContactFactory(organization=acme, first_name="=1+1", last_name="Evil", email="evil@example.org")
    AssigneeFactory(assignment=quiz.assignment, contact=evil)
    response = alice_client.get(f"/results/questionnaires/{quiz.pk}/export/xlsx/")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    cells = list(sheet.iter_rows(values_only=True))
    evil_row = next(row for row in cells if "evil@example.org" in row)
    assert evil_row[1] == "=1+1"
    assert sheet.cell(row=cells.index(evil_row) + 1, column=2).data_type == "s"
    assert any(row[12] == "50.00" for row in cells)
    # The dates are date cells (empty when the thing has not happened); the header stays in view.
    invited = sheet.cell(row=cells.index(evil_row) + 1, column=8)
    assert invited.is_date and isinstance(invited.value, datetime.datetime)
    assert evil_row[9] is None and evil_row[11] is None  # never opened, never submitted
    assert sheet.freeze_panes == "A2"


def test_a_persons_page_lists_their_invitations_and_is_linked(alice_client, quiz, ines):
    page = text(alice_client.get(f"/results/users/{ines.pk}/"))
    assert "Fire drill" in page and "50 %" in page
    assert f"/results/users/{ines.pk}/" in text(alice_client.get(f"/users/{ines.pk}/"))
    assert "Fire drill" in text(alice_client.get(f"/results/contacts/{quiz.carla.pk}/"))
    assert f"/results/contacts/{quiz.carla.pk}/" in text(alice_client.get(f"/contacts/{quiz.carla.pk}/edit/"))
    assert f"/results/contacts/{quiz.carla.pk}/" in text(alice_client.get("/contacts/"))


def test_the_user_page_links_results_only_for_people_in_the_results_scope(acme, make_client, lyon, paris, ines, otto):
    """Victor manages Lyon and Paris but reads the results of Lyon only."""
    victor = UserFactory(organization=acme, email="victor@acme.example")
    grant(victor, Right.MANAGE_USERS, lyon, paris)
    grant(victor, Right.VIEW_RESULTS, lyon)
    client = make_client(acme, victor)
    assert f"/results/users/{ines.pk}/" in text(client.get(f"/users/{ines.pk}/"))
    assert f"/results/users/{otto.pk}/" not in text(client.get(f"/users/{otto.pk}/"))


def _people(quiz, count):
    organization = quiz.organization
    for number in range(count):
        user = UserFactory(organization=organization, first_name=f"P{number}", last_name="Bulk")
        place = AssigneeFactory(assignment=quiz.assignment, user=user)
        if number % 2:
            submitted(user, quiz, place, score=str(number % 100))


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("path", ["/results/questionnaires/{quiz}/?per_page=100", "/results/users/{user}/"])
def test_queries_per_page_do_not_grow_with_the_rows(alice_client, quiz, lyon, django_assert_max_num_queries, path):
    member = UserFactory(organization=quiz.organization, first_name="Many", last_name="Places")
    MembershipFactory(group=lyon, user=member)

    def grow(count):
        _people(quiz, count)
        for _ in range(count):
            AssigneeFactory(assignment=AssignmentFactory(questionnaire=quiz), user=member)

    grow(10)
    url = path.format(quiz=quiz.pk, user=member.pk)
    few = _queries(alice_client, url)
    grow(90)
    with django_assert_max_num_queries(few):
        response = alice_client.get(url)
    assert len(response.context["rows"]) >= 50
