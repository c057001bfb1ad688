"""The status lifecycle is one table (`User.LIFECYCLE`): the user page's actions, the bulk actions and
the status service all read it, and "awaiting an invitation" is one predicate."""

import ast
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.models import Transition, User
from accounts.tests.factories import UserFactory
from experquiz.tests.codebase import product_modules
from flows import bulk

pytestmark = pytest.mark.django_db
Status = User.Status


def test_the_transitions_by_status_are_read_off_the_table():
    derived = {status: set() for status in Status}
    for transition in User.LIFECYCLE:
        for source in transition.sources:
            derived[source].add(transition.to)
    assert derived == User.TRANSITIONS


def test_awaiting_an_invitation_is_where_sending_one_can_start():
    (invite,) = [t for t in User.LIFECYCLE if t.to == Status.INVITED]
    assert invite.by == Transition.SENDING
    assert User.AWAITING_INVITATION == invite.sources == {Status.CREATED, Status.INVITED}


@pytest.mark.parametrize("status", list(Status))
def test_the_predicate_and_the_queryset_agree(status, acme):
    person = UserFactory(organization=acme, status=status)
    awaiting = User.objects.for_org(acme).awaiting_invitation()
    expected = status in User.AWAITING_INVITATION
    assert person.is_awaiting_invitation == expected == awaiting.filter(pk=person.pk).exists()


@pytest.mark.parametrize("status", list(Status))
def test_the_user_page_offers_the_administrators_moves_of_the_table(alice_client, alice, status):
    person = UserFactory(organization=alice.organization, status=status)
    page = alice_client.get(reverse("accounts:user_detail", args=[person.pk])).content.decode()
    offered = set(re.findall(rf"/users/{person.pk}/status/(\w+)/", page))
    expected = {t.to for t in User.transitions_from(status, by=Transition.ADMINISTRATOR)}
    assert offered == expected


def test_the_user_page_follows_a_change_of_the_table(alice_client, alice, monkeypatch):
    """Derived, not restated: a move taken out of the table leaves the page (and the status URL)."""
    person = UserFactory(organization=alice.organization, status=Status.ACTIVE)
    lifecycle = tuple(t for t in User.LIFECYCLE if t.name != "deactivate")
    monkeypatch.setattr(User, "LIFECYCLE", lifecycle)
    page = alice_client.get(reverse("accounts:user_detail", args=[person.pk])).content.decode()
    assert f"/users/{person.pk}/status/inactive/" not in page
    assert f"/users/{person.pk}/status/deleted/" in page


def test_every_administrators_move_is_a_bulk_action_with_the_tables_label_and_confirmation():
    for transition in User.transitions_from(None, by=Transition.ADMINISTRATOR):
        action = bulk.REGISTRY[transition.name]
        assert (str(action.label), action.confirm) == (str(transition.label), transition.confirm)
    status_actions = {name for name, action in bulk.REGISTRY.items() if getattr(action, "transition", None)}
    assert status_actions == {t.name for t in User.transitions_from(None, by=Transition.ADMINISTRATOR)}


def test_bulk_restore_leaves_active_people_alone(alice, acme):
    """Restore is deleted → inactive: an active person ticked with deleted ones is skipped, not deactivated."""
    active = UserFactory(organization=acme, status=Status.ACTIVE, first_name="Ann", last_name="Active")
    deleted = UserFactory(organization=acme, status=Status.DELETED)
    users = User.objects.filter(pk__in=[active.pk, deleted.pk]).order_by("pk")
    outcome = bulk.run(bulk.REGISTRY["restore"], users=users, actor=alice, params={})
    active.refresh_from_db()
    deleted.refresh_from_db()
    assert (active.status, deleted.status) == (Status.ACTIVE, Status.INACTIVE)
    assert "currently active" in outcome.summary()


# "Awaiting an invitation" is written once: no (created, invited) pair in the product code.

STATUS_NAMES = {"CREATED": "created", "INVITED": "invited"}


def _status_of(node) -> str | None:
    if isinstance(node, ast.Attribute) and node.attr in STATUS_NAMES:
        return STATUS_NAMES[node.attr]
    if isinstance(node, ast.Constant) and node.value in STATUS_NAMES.values():
        return node.value
    return None


def test_no_product_code_spells_out_awaiting_an_invitation():
    offenders = []
    for module, tree in product_modules():
        definition = set()  # the one place it is written: User.AWAITING_INVITATION
        for node in ast.walk(tree):
            names = [getattr(target, "id", "") for target in getattr(node, "targets", [])]
            if isinstance(node, ast.Assign) and "AWAITING_INVITATION" in names:
                definition |= {id(inner) for inner in ast.walk(node.value)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Tuple | ast.List | ast.Set) and id(node) not in definition:
                found = {_status_of(element) for element in node.elts}
                if found == {"created", "invited"}:
                    offenders.append(f"{module}:{node.lineno}")
    for path in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        text = path.read_text()
        if re.search(r"status\s*==\s*['\"]created['\"]\s+or\s+\S+\s*==\s*['\"]invited['\"]", text):
            offenders.append(str(path.relative_to(settings.BASE_DIR)))
    assert not offenders, (
        f"Awaiting an invitation spelt out as (created, invited): {offenders}. Use User.AWAITING_INVITATION, "
        "user.is_awaiting_invitation or User.objects.awaiting_invitation()."
    )
