"""A person's history rows are built in one place (accounts.history) for the single and the bulk
paths: the same event gives the same row whichever path wrote it."""

import ast

import pytest

from accounts.history import REASON_MAX
from accounts.models import StatusChange, User
from accounts.services import user_change_status, user_create, users_history_note, users_mark_invited
from accounts.tests.factories import UserFactory
from experquiz.tests.codebase import product_modules
from flows.importing import check_rows, read_table
from flows.imports import users_import

pytestmark = pytest.mark.django_db
WRITES = {"create", "bulk_create", "get_or_create", "update_or_create"}


def _makes_history_rows(node) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Name):
        return func.id == "StatusChange"
    # StatusChange.objects.create(…), StatusChange.objects.bulk_create(…)
    return (
        isinstance(func, ast.Attribute)
        and func.attr in WRITES
        and isinstance(func.value, ast.Attribute)
        and isinstance(func.value.value, ast.Name)
        and func.value.value.id == "StatusChange"
    )


def test_only_the_history_builder_makes_history_rows():
    places = [
        f"{module}:{node.lineno}"
        for module, tree in product_modules()
        for node in ast.walk(tree)
        if _makes_history_rows(node) and module != "accounts.history"
    ]
    assert not places, f"History rows built outside accounts.history: {places}"


def _row(user):
    change = StatusChange.objects.filter(user=user).order_by("-pk").first()
    return (change.organization_id, change.from_status, change.to_status, change.actor_id, change.reason)


def test_a_creation_writes_the_same_first_row_alone_and_in_an_import(alice):
    alone = user_create(organization=alice.organization, actor=alice, email="alone@acme.example")
    header, rows = read_table(b"email\nimported@acme.example\n")
    check = check_rows(organization=alice.organization, actor=alice, header=header, rows=rows)
    users_import(organization=alice.organization, actor=alice, check=check)
    imported = User.objects.get(email="imported@acme.example")
    assert _row(alone) == _row(imported) == (alice.organization_id, "", "created", alice.pk, "")


def test_a_long_reason_is_cut_the_same_way_on_every_path(alice):
    reason = "why " * 100
    one, many, noted = (UserFactory(organization=alice.organization, status=User.Status.CREATED) for _ in range(3))
    user_change_status(user=one, to=User.Status.ACTIVE, actor=alice, reason=reason)
    users_mark_invited(organization=alice.organization, user_ids=[many.pk], actor=alice, reason=reason)
    users_history_note(user_ids=[noted.pk], actor=alice, note=reason)
    assert {_row(person)[-1] for person in (one, many, noted)} == {reason[:REASON_MAX]}
