"""What an event holds, and that it lives and dies with the action it records."""

import ast
from pathlib import Path

import pytest
from django.db import transaction

from accounts.models import User
from accounts.services import user_change_status, user_type_create
from accounts.tests.factories import UserFactory
from audit.models import Action, AuditEvent
from audit.services import MAX_TEXT, NotInTransaction, audit_event, audit_record
from experquiz import request_context
from experquiz.errors import DomainError
from flows import bulk
from flows.people import user_create_with_groups

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_an_update_keeps_only_what_changed_and_an_update_that_changes_nothing_records_nothing(acme, alice, bob):
    with transaction.atomic():
        event = audit_record(
            organization=acme,
            actor=alice,
            action=Action.USER_UPDATED,
            target=bob,
            before={"first_name": "Bob", "last_name": "Plain", "mobile": ""},
            after={"first_name": "Robert", "last_name": "Plain", "mobile": None},
        )
        nothing = audit_record(
            organization=acme, actor=alice, action=Action.USER_UPDATED, target=bob, before={"a": 1}, after={"a": 1}
        )
    assert (event.before, event.after) == ({"first_name": "Bob"}, {"first_name": "Robert"})
    assert nothing is None
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db
def test_passwords_tokens_and_secrets_never_enter_the_trail(acme, alice, bob):
    with transaction.atomic():
        event = audit_record(
            organization=acme,
            actor=alice,
            action=Action.USER_UPDATED,
            target=bob,
            before={"password": "old", "token_hash": "abc", "first_name": "Bob"},
            after={"password": "new", "token_hash": "def", "new_password1": "x", "secret": "s", "first_name": "Rob"},
        )
    assert event.before == {"first_name": "Bob"} and event.after == {"first_name": "Rob"}


@pytest.mark.django_db
def test_long_values_are_cut_and_lists_joined(acme, alice):
    with transaction.atomic():
        event = audit_record(
            organization=acme,
            actor=alice,
            action=Action.GROUP_CREATED,
            after={"description": "x" * 5000, "groups": [f"group {n}" for n in range(50)]},
            label="y" * 500,
        )
    assert len(event.after["description"]) == MAX_TEXT and event.after["description"].endswith("…")
    assert event.after["groups"].startswith("group 0, group 1") and len(event.after["groups"]) <= MAX_TEXT
    assert len(event.target_label) == 200


@pytest.mark.django_db
def test_an_unknown_action_is_refused(acme, alice):
    with pytest.raises(ValueError), transaction.atomic():
        audit_record(organization=acme, actor=alice, action="user.teleported")


@pytest.mark.django_db
def test_a_client_address_that_is_not_an_address_is_not_stored(acme, alice):
    with request_context.bound(client_ip="unknown, <script>", request_id="r-1"):
        event = audit_event(organization=acme, actor=alice, action=Action.GROUP_CREATED)
    assert event.client_ip is None and event.request_id == "r-1"


@pytest.mark.django_db(transaction=True)
def test_recording_outside_a_transaction_is_refused(acme, alice):
    with pytest.raises(NotInTransaction):
        audit_record(organization=acme, actor=alice, action=Action.GROUP_CREATED)
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_service_that_fails_after_recording_leaves_no_event(acme, maggie, paris):
    """Maggie may not put people in Paris: the user (and its event, written first) are rolled back."""
    with pytest.raises(DomainError):
        user_create_with_groups(organization=acme, actor=maggie, email="nina@acme.example", groups=[paris])
    assert not User.objects.filter(email="nina@acme.example").exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_outer_transaction_rolled_back_takes_the_events_with_it(acme, alice, bob):
    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        user_change_status(user=bob, to="inactive", actor=alice)
        user_type_create(organization=acme, name="Intern", actor=alice)
        assert AuditEvent.objects.count() == 2  # written, inside the transaction
        raise Abort
    assert not AuditEvent.objects.exists()
    bob.refresh_from_db()
    assert bob.status == "active"


@pytest.mark.django_db
def test_a_bulk_action_records_one_event_per_person_changed(acme, alice):
    people = [UserFactory(organization=acme) for _ in range(3)]
    already = UserFactory(organization=acme, status=User.Status.INACTIVE)
    outcome = bulk.run(
        bulk.REGISTRY["deactivate"],
        users=User.objects.filter(pk__in=[p.pk for p in [*people, already]]).order_by("pk"),
        actor=alice,
        params={},
    )
    assert len(outcome.done) == 3
    events = AuditEvent.objects.filter(action=Action.USER_STATUS_CHANGED)
    assert sorted(events.values_list("target_user_id", flat=True)) == sorted(p.pk for p in people)
    assert {e.actor_id for e in events} == {alice.pk}


@pytest.mark.django_db
def test_a_platform_action_outside_any_organisation_records_nothing(alice):
    with transaction.atomic():
        assert audit_record(organization=None, actor=None, action=Action.USER_PASSWORD_CHANGED) is None
    assert not AuditEvent.objects.exists()


def _project_imports(path: Path) -> set[str]:
    """Top-level packages imported anywhere in a module, functions included."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    "module", ["audit/models.py", "audit/services.py", "audit/selectors.py", "experquiz/request_context.py"]
)
def test_the_bottom_floor_imports_no_other_project_app(module):
    """The trail's models, recording and reads sit below every app: they may use Django and experquiz only."""
    apps = {path.parent.name for path in ROOT.glob("*/apps.py")} - {"experquiz", "audit"}
    assert apps >= {"accounts", "groups", "invitations"}
    assert not _project_imports(ROOT / module) & apps
