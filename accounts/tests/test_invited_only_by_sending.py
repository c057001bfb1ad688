"""`invited` is reached only by sending an invitation (security review, finding 9): the status URL,
the status service, the bulk actions and every other caller refuse to mark someone invited without
sending them anything."""

import ast

import pytest
from django.urls import reverse

from accounts.errors import TransitionNotAllowed
from accounts.models import StatusChange, User
from accounts.services import user_change_status
from accounts.tests.factories import UserFactory, UserTypeFactory
from experquiz.tests.codebase import product_modules
from flows import bulk
from invitations.models import Invitation

pytestmark = pytest.mark.django_db
Status = User.Status


@pytest.mark.parametrize("source", [Status.CREATED, Status.INVITED])
def test_the_status_url_refuses_invited_as_a_target(alice_client, alice, source):
    person = UserFactory(organization=alice.organization, status=source)
    url = reverse("accounts:user_status", args=[person.pk, "invited"])
    assert alice_client.get(url).status_code == 404
    assert alice_client.post(url, {"reason": "no message"}).status_code == 404
    person.refresh_from_db()
    assert person.status == source
    assert not StatusChange.objects.filter(user=person).exists()
    assert not Invitation.objects.filter(user=person).exists()


@pytest.mark.parametrize("status", list(Status))
def test_the_detail_page_never_offers_invited_as_a_status_change(alice_client, alice, status):
    person = UserFactory(organization=alice.organization, status=status)
    content = alice_client.get(reverse("accounts:user_detail", args=[person.pk])).content.decode()
    assert f"/users/{person.pk}/status/invited/" not in content


@pytest.mark.parametrize("source", [Status.CREATED, Status.INVITED])
def test_the_status_service_refuses_invited_and_says_how_to_invite(alice, source):
    person = UserFactory(organization=alice.organization, status=source, first_name="Ann", last_name="Bee")
    with pytest.raises(TransitionNotAllowed) as refused:
        user_change_status(user=person, to=Status.INVITED, actor=alice)
    assert "Ann Bee" in refused.value.message and "invitation" in refused.value.message
    person.refresh_from_db()
    assert person.status == source
    assert not StatusChange.objects.filter(user=person).exists()


def test_no_bulk_action_moves_people_to_invited_without_sending():
    # Sending invitations is a bulk action of its own (it sends); a status handler cannot make one.
    with pytest.raises(ValueError):
        bulk.status_handler(Status.INVITED, done="%(n)s invited")


def test_a_registered_status_action_never_targets_invited(alice, lyon):
    person = UserFactory(organization=alice.organization, status=Status.CREATED)
    trainer = UserTypeFactory(organization=alice.organization, name="Trainer")
    # The actions that set a field take the new value; the others ignore it.
    values = {"user_type": trainer.pk, "language": "fr", "preferred_channel": "email"}
    for action in bulk.REGISTRY.values():
        if action.handler is bulk.send_invitations:
            continue  # the sending actions ("invite", "invite_group"): they send, tested with the invitations
        if action.handler is bulk.undo:
            continue  # puts back fields and memberships a recorded job changed, never a status
        params = {"group": lyon, "value": values.get(action.field)}
        bulk.run(action, users=User.objects.filter(pk=person.pk).order_by("pk"), actor=alice, params=params)
        person.refresh_from_db()
        assert person.status != Status.INVITED, action.name
        User.objects.filter(pk=person.pk).update(status=Status.CREATED)


def project_sources():
    yield from product_modules()


def callers_of(name: str) -> set[str]:
    """'module:function' of every function of the project (tests aside) that calls `name`."""
    found = set()
    for path, tree in project_sources():
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.Call):
                    func = inner.func
                    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                    if called == name:
                        found.add(f"{path}:{node.name}")
    return found


def test_only_the_sending_service_marks_people_invited_in_bulk():
    """`users_mark_invited` writes `invited` without a message: only the service that also writes
    the invitations calls it (and the demo data, whose addresses are made up)."""
    assert callers_of("users_mark_invited") == {
        "invitations.services.account:invitations_send",
        "flows.management.commands.seed_demo:seed",
    }


def test_nothing_asks_the_status_service_for_invited():
    """No caller passes `to=invited` (or Status.INVITED) to the status service."""
    offenders = []
    for path, tree in project_sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                if called not in ("user_change_status", "status_handler"):
                    continue
                for argument in [*node.args, *(keyword.value for keyword in node.keywords)]:
                    text = ast.unparse(argument)
                    if text in ("'invited'", "Status.INVITED", "User.Status.INVITED"):
                        offenders.append(f"{path}:{node.lineno}")
    assert not offenders, offenders
