"""The reads written as SQL by hand (experquiz.sql_rows) give what the querysets they replace give:
the same rows, every field converted the same way, the same related objects loaded, the same None."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Organization
from accounts.selectors import organization_by_slug, people_changed, people_version
from accounts.tests.factories import ContactFactory, OrganizationFactory
from assessments.models import Assignee, Attempt
from assessments.selectors import assessment_link_by_token, assignee_of, questions_of
from assessments.tests.factories import add_link, make_assignment, make_questionnaire
from experquiz.sql_rows import Table
from invitations.models import Invitation, InvitationBatch
from invitations.selectors import invitation_by_token
from invitations.tokens import hash_token

pytestmark = pytest.mark.django_db


def fields(instance):
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def same(built, queried):
    assert type(built) is type(queried)
    assert fields(built) == fields(queried)
    assert not built._state.adding and built._state.db == "default"


def test_a_row_makes_the_instance_the_orm_makes(acme, bob):
    quiz = make_questionnaire(acme, questions=2)
    attempt = Attempt.objects.create(
        organization=acme, questionnaire=quiz, user=bob, started_at=timezone.now(), score=Decimal("87.50")
    )
    table = Table(Attempt, "t")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {table.columns} FROM {table.source} WHERE {table.column('id')} = %s", [attempt.pk])
        row = cursor.fetchone()
    built = table.build(row)
    same(built, Attempt.objects.get(pk=attempt.pk))
    assert built.score == Decimal("87.50") and built.started_at.tzinfo is not None
    assert table.build((None,) * len(table)) is None  # a LEFT JOIN that found nothing


def test_the_tenant_read_is_the_organisation_with_its_people_version(acme, globex):
    people_changed(acme.pk)
    people_changed(acme.pk)
    found = organization_by_slug("acme")
    same(found, Organization.objects.get(slug="acme"))
    assert found.people_version == people_version(acme.pk) == 2
    assert organization_by_slug("globex").people_version == 0  # no version row yet
    assert organization_by_slug("nobody") is None


def test_an_account_link_reads_its_invitation_and_user(acme, globex, bob):
    token = "an-account-token-" + "x" * 30
    invitation = Invitation.objects.create(
        organization=acme,
        kind=Invitation.Kind.ACCOUNT,
        user=bob,
        channel="email",
        address=bob.email,
        token_hash=hash_token(token),
        expires_at=timezone.now() + timedelta(days=1),
    )
    found = invitation_by_token(acme, token, [Invitation.Kind.ACCOUNT, Invitation.Kind.PASSWORD_RESET])
    same(found, Invitation.objects.get(pk=invitation.pk))
    same(found.user, bob)
    assert found.organization is acme
    assert invitation_by_token(acme, token, [Invitation.Kind.PASSWORD_RESET]) is None
    assert invitation_by_token(globex, token, [Invitation.Kind.ACCOUNT]) is None
    assert invitation_by_token(acme, "", [Invitation.Kind.ACCOUNT]) is None
    assert invitation_by_token(acme, "x" * 101, [Invitation.Kind.ACCOUNT]) is None


def expected_link(organization, token):
    """What the link pages read before: the invitation, then its place, with the querysets."""
    invitation = invitation_by_token(organization, token, [Invitation.Kind.ASSESSMENT])
    return invitation, assignee_of(invitation)


def assert_same_link(organization, token):
    invitation, assignee = assessment_link_by_token(organization, token)
    old_invitation, old_assignee = expected_link(organization, token)
    same(invitation, old_invitation)
    if old_assignee is None:
        assert assignee is None
        return invitation, assignee
    same(assignee, old_assignee)
    same(assignee.assignment, old_assignee.assignment)
    same(assignee.assignment.questionnaire, old_assignee.assignment.questionnaire)
    old_attempt = getattr(old_assignee, "attempt", None)
    if old_attempt is None:
        assert getattr(assignee, "attempt", None) is None
    else:
        same(assignee.attempt, old_attempt)
    if old_assignee.contact_id:
        same(assignee.contact, old_assignee.contact)
    else:
        assert assignee.contact is None
    questionnaire = assignee.assignment.questionnaire
    assert questionnaire.question_count == questions_of(questionnaire).count()
    return invitation, assignee


def test_an_assessment_link_reads_its_place_among_many(acme, globex, bob):
    quiz = make_questionnaire(acme, questions=4)
    others = [ContactFactory(organization=acme) for _ in range(5)]
    cora = ContactFactory(organization=acme)
    assignment, tokens = make_assignment(quiz, people=[*others, cora, bob])
    _invitation, place = assert_same_link(acme, tokens[cora])
    assert place.contact == cora and place.assignment == assignment
    assert place.assignment.questionnaire.question_count == 4
    _invitation, place = assert_same_link(acme, tokens[bob])  # a user's link
    assert place.user_id == bob.pk and place.contact is None
    # With an attempt, a reminder (a second link to the same place), the place removed.
    assignee = Assignee.objects.get(contact=cora)
    Attempt.objects.create(
        organization=acme, questionnaire=quiz, contact=cora, assignee=assignee, started_at=timezone.now()
    )
    reminder = add_link(assignee, is_reminder=True)
    _invitation, place = assert_same_link(acme, reminder)
    assert place.attempt.contact_id == cora.pk
    Assignee.objects.filter(contact=others[0]).update(removed_at=timezone.now())
    assert_same_link(acme, tokens[others[0]])
    # Another tenant's, an unknown one.
    assert assessment_link_by_token(globex, tokens[cora]) == (None, None)
    assert assessment_link_by_token(acme, "unknown-" + "z" * 40) == (None, None)


def test_an_assessment_link_whose_place_is_gone_is_its_invitation_alone(acme):
    quiz = make_questionnaire(acme, questions=1)
    cora = ContactFactory(organization=acme)
    _assignment, tokens = make_assignment(quiz, people=[cora])
    Assignee.objects.filter(contact=cora).delete()
    invitation, place = assert_same_link(acme, tokens[cora])
    assert invitation is not None and place is None
    # A message whose batch is no assessment invitation's.
    orphan = Invitation.objects.filter(contact=cora).get()
    Invitation.objects.filter(pk=orphan.pk).update(batch=InvitationBatch.objects.create(organization=acme))
    assert_same_link(acme, tokens[cora])


def test_an_organisation_without_questions_counts_none(acme):
    other = OrganizationFactory(slug="other")
    quiz = make_questionnaire(acme, questions=0)
    cora = ContactFactory(organization=acme)
    _assignment, tokens = make_assignment(quiz, people=[cora])
    make_questionnaire(other, questions=3)
    _invitation, place = assert_same_link(acme, tokens[cora])
    assert place.assignment.questionnaire.question_count == 0


# --- Prepared once per connection (PostgreSQL, persistent connections) ------------------------------


@pytest.fixture
def persistent(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 300)


def sent(action):
    with CaptureQueriesContext(connection) as queries:
        result = action()
    return result, [query["sql"].split("(")[0].split(" AS ")[0] for query in queries]


def test_with_persistent_connections_a_read_is_prepared_once_per_connection(persistent, acme, transactional_db):
    plain = fields(organization_by_slug("acme"))
    connection.close()
    found, statements = sent(lambda: organization_by_slug("acme"))
    assert statements == ["PREPARE experquiz_organization_by_slug", "EXECUTE experquiz_organization_by_slug"]
    assert fields(found) == plain
    found, statements = sent(lambda: organization_by_slug("acme"))
    assert statements == ["EXECUTE experquiz_organization_by_slug"] and fields(found) == plain
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        assert ("experquiz_organization_by_slug",) in cursor.fetchall()
    connection.close()  # a new connection has prepared nothing
    _found, statements = sent(lambda: organization_by_slug("acme"))
    assert statements[0] == "PREPARE experquiz_organization_by_slug"


def test_a_prepared_read_gone_from_the_session_is_prepared_again(persistent, acme, transactional_db):
    organization_by_slug("acme")
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # as a pooler's DISCARD ALL would
    found, statements = sent(lambda: organization_by_slug("acme"))
    assert found.slug == "acme"
    assert statements[-2:] == ["PREPARE experquiz_organization_by_slug", "EXECUTE experquiz_organization_by_slug"]


def test_every_prepared_read_gives_what_the_plain_one_gives(persistent, acme, bob):
    quiz = make_questionnaire(acme, questions=2)
    cora = ContactFactory(organization=acme)
    _assignment, tokens = make_assignment(quiz, people=[cora])
    token = "an-account-token-" + "y" * 30
    Invitation.objects.create(
        organization=acme, kind=Invitation.Kind.ACCOUNT, user=bob, channel="email", address=bob.email,
        token_hash=hash_token(token), expires_at=timezone.now() + timedelta(days=1),
    )  # fmt: skip
    for _ in range(7):  # past PostgreSQL's first five custom plans, onto the generic one
        invitation = invitation_by_token(acme, token, [Invitation.Kind.ACCOUNT])
        link_invitation, place = assessment_link_by_token(acme, tokens[cora])
    same(invitation, Invitation.objects.get(token_hash=hash_token(token)))
    assert_same_link(acme, tokens[cora])
    assert place.contact == cora and link_invitation.contact_id == cora.pk


def test_reads_sent_together_give_what_each_gives_alone_in_one_round_trip(persistent, acme, globex, transactional_db):
    from accounts.selectors import KEPT_STATUS_COUNTS, USER_TYPE_CHOICES
    from accounts.tests.factories import UserFactory
    from experquiz.sql_rows import fetchall_together

    UserFactory(organization=acme)
    for organization, name in ((acme, "Trainee"), (acme, "Employee"), (globex, "Client")):
        organization.user_types.create(name=name)
    calls = [(USER_TYPE_CHOICES, [acme.pk]), (KEPT_STATUS_COUNTS, [acme.pk]), (USER_TYPE_CHOICES, [globex.pk])]
    alone = [statement.fetchall(params) for statement, params in calls]
    assert [name for _pk, name in alone[0]] == ["Employee", "Trainee"] and alone[1]
    connection.close()
    together, statements = sent(lambda: fetchall_together(*calls))
    assert together == alone
    # Each read prepared once, then one string of three EXECUTEs: one round trip.
    assert statements == [
        "PREPARE experquiz_user_type_choices",
        "PREPARE experquiz_kept_status_counts",
        "EXECUTE experquiz_user_type_choices",
    ]
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # as a pooler's DISCARD ALL would
    together, statements = sent(lambda: fetchall_together(*calls))
    assert together == alone and statements[-1] == "EXECUTE experquiz_user_type_choices"
    connection.settings_dict["CONN_MAX_AGE"] = 0  # not kept: the plain statements, still together
    together, statements = sent(lambda: fetchall_together(*calls))
    assert together == alone and len(statements) == 1
