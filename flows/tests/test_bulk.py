import re

import pytest
from django.urls import reverse

from accounts.models import StatusChange
from accounts.tests.factories import AdministratorFactory, MembershipFactory, UserFactory, UserGroupFactory
from flows import bulk

pytestmark = pytest.mark.django_db
URL = reverse("accounts:user_bulk")


def make(org, first, last, status="active"):
    return UserFactory(organization=org, first_name=first, last_name=last, status=status)


def messages_of(response):
    """The messages' text, without the Undo button an undoable action's result carries."""
    return [re.sub(r"\s*<form .*</form>", "", str(m)) for m in response.context["messages"]]


def test_deactivate_reports_what_happened_per_outcome(alice_client, alice):
    org = alice.organization
    active = [make(org, f"Act{n}", "One") for n in range(3)]
    inactive = make(org, "Ann", "Bee", "inactive")
    created = make(org, "Carl", "Dee", "created")
    ids = [u.pk for u in [*active, inactive, created]]
    response = alice_client.post(URL, {"action": "deactivate", "ids": ids, "confirmed": "1"}, follow=True)
    (message,) = messages_of(response)
    assert message == "3 deactivated; 1 skipped: already inactive — Ann B.; 1 skipped: currently created — Carl D."
    for user in active:
        user.refresh_from_db()
        assert user.status == "inactive"
    created.refresh_from_db()
    assert created.status == "created"
    assert StatusChange.objects.filter(to_status="inactive").count() == 3


def test_destructive_actions_ask_for_confirmation_first(alice_client, bob):
    response = alice_client.post(URL, {"action": "delete", "ids": [bob.pk]})
    assert response.status_code == 200
    assert "Bob Plain" in response.content.decode()
    bob.refresh_from_db()
    assert bob.status == "active"
    alice_client.post(URL, {"action": "delete", "ids": [bob.pk], "confirmed": "1"})
    bob.refresh_from_db()
    assert bob.status == "deleted"


def test_the_last_administrator_is_skipped_and_the_others_change(alice_client, alice, bob):
    response = alice_client.post(
        URL, {"action": "deactivate", "ids": [alice.pk, bob.pk], "confirmed": "1"}, follow=True
    )
    assert messages_of(response) == [
        "1 deactivated; 1 skipped: the last active administrator must stay active — Alice A."
    ]
    alice.refresh_from_db()
    assert alice.status == "active"


def test_activate_does_not_reactivate_and_reactivate_does_not_activate(alice_client, alice):
    created = make(alice.organization, "New", "Comer", "created")
    inactive = make(alice.organization, "Old", "Timer", "inactive")
    alice_client.post(URL, {"confirmed": "1", "action": "activate", "ids": [created.pk, inactive.pk]})
    created.refresh_from_db(), inactive.refresh_from_db()
    assert (created.status, inactive.status) == ("active", "inactive")
    alice_client.post(URL, {"confirmed": "1", "action": "reactivate", "ids": [inactive.pk]})
    inactive.refresh_from_db()
    assert inactive.status == "active"


def test_restore_brings_deleted_users_back_as_inactive(alice_client, alice):
    gone = make(alice.organization, "Gone", "Away", "deleted")
    alice_client.post(URL, {"confirmed": "1", "action": "restore", "ids": [gone.pk]})
    gone.refresh_from_db()
    assert gone.status == "inactive"


def test_all_matching_applies_to_every_user_of_the_filter_and_keeps_it(alice_client, alice):
    org = alice.organization
    group = UserGroupFactory(organization=org, name="Night shift")
    members = [MembershipFactory(group=group, user=make(org, f"M{n}", "Night")).user for n in range(30)]
    outsider = make(org, "Out", "Sider")
    filters = f"group={group.pk}&status=active"
    response = alice_client.post(
        URL, {"action": "deactivate", "all_matching": "1", "filters": filters, "confirmed": "1"}
    )
    assert response["Location"] == reverse("accounts:user_list") + "?" + filters
    assert all(u.status == "inactive" for u in type(outsider).objects.filter(pk__in=[m.pk for m in members]))
    outsider.refresh_from_db()
    assert outsider.status == "active"


def test_add_and_remove_from_group(alice_client, alice, bob):
    group = UserGroupFactory(organization=alice.organization, name="Sales")
    other = make(alice.organization, "Cleo", "Patra")
    MembershipFactory(group=group, user=other)
    response = alice_client.post(
        URL, {"confirmed": "1", "action": "add_to_group", "group": group.pk, "ids": [bob.pk, other.pk]}, follow=True
    )
    assert messages_of(response) == ["1 added to Sales; 1 skipped: already in Sales — Cleo P."]
    assert "/undo/" in str(list(response.context["messages"])[0])
    assert set(group.members.all()) == {bob, other}
    response = alice_client.post(
        URL, {"action": "remove_from_group", "group": group.pk, "ids": [bob.pk], "confirmed": "1"}, follow=True
    )
    assert messages_of(response) == ["1 removed from Sales."]
    assert set(group.members.all()) == {other}


def test_group_actions_need_a_group_of_the_organisation(alice_client, bob, mallory):
    foreign = UserGroupFactory(organization=mallory.organization)
    for group in ("", foreign.pk):
        response = alice_client.post(
            URL, {"confirmed": "1", "action": "add_to_group", "group": group, "ids": [bob.pk]}, follow=True
        )
        assert "Choose the group" in messages_of(response)[0]
    assert not foreign.members.exists()


def test_users_of_another_tenant_are_never_touched(alice_client, mallory):
    other_admin = AdministratorFactory(organization=mallory.organization)
    response = alice_client.post(URL, {"action": "deactivate", "ids": [other_admin.pk], "confirmed": "1"}, follow=True)
    assert "Select at least one user" in messages_of(response)[0]
    other_admin.refresh_from_db()
    assert other_admin.status == "active"


def test_an_unknown_action_is_a_message(alice_client, bob):
    response = alice_client.post(URL, {"action": "explode", "ids": [bob.pk]}, follow=True)
    assert "Choose an action" in messages_of(response)[0]


def test_plain_users_cannot_run_bulk_actions(bob_client, bob):
    assert bob_client.post(URL, {"action": "delete", "ids": [bob.pk], "confirmed": "1"}).status_code == 403


def test_too_many_users_are_refused_with_a_message(alice_client, alice, monkeypatch):
    monkeypatch.setattr(bulk, "MAX_USERS", 2)
    users = [make(alice.organization, f"U{n}", "Many") for n in range(3)]
    response = alice_client.post(
        URL, {"confirmed": "1", "action": "activate", "ids": [u.pk for u in users]}, follow=True
    )
    assert "at most 2" in messages_of(response)[0]


def test_the_summary_lists_five_names_then_counts_the_rest():
    class Person:
        def __init__(self, n):
            self.short_name = f"P{n}"

    outcome = bulk.BulkOutcome(done_message="%(n)s deactivated")
    for n in range(7):
        outcome.skip("already inactive", Person(n))
    assert outcome.summary() == "0 deactivated; 7 skipped: already inactive — P0, P1, P2, P3, P4, and 2 more."
    assert outcome.level == "error"


def test_registering_an_action_makes_it_available(alice_client, bob, monkeypatch):
    monkeypatch.setattr(bulk, "REGISTRY", dict(bulk.REGISTRY))
    bulk.register(bulk.BulkAction("archive", "Archive", bulk.status_handler("deleted", done="%(n)s archived")))
    gone = make(bob.organization, "Ivy", "Ted", "deleted")
    response = alice_client.post(URL, {"confirmed": "1", "action": "archive", "ids": [gone.pk, bob.pk]}, follow=True)
    assert messages_of(response) == ["1 archived; 1 skipped: already deleted — Ivy T."]


def test_large_selections_run_in_the_background_and_the_page_shows_the_outcome(
    alice_client, alice, monkeypatch, django_capture_on_commit_callbacks
):
    from accounts.models import BulkJob

    monkeypatch.setattr(bulk, "SYNC_MAX", 3)
    monkeypatch.setattr(bulk, "CHUNK", 2)
    org = alice.organization
    group = UserGroupFactory(organization=org, name="Night shift")
    for n in range(5):
        MembershipFactory(group=group, user=make(org, f"M{n}", "Night"))
    MembershipFactory(group=group, user=make(org, "Ann", "Bee", "inactive"))
    filters = f"group={group.pk}"
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            URL, {"action": "deactivate", "all_matching": "1", "filters": filters, "confirmed": "1"}
        )
    job = BulkJob.objects.get()
    assert response["Location"] == reverse("accounts:user_bulk_job", args=[job.pk])
    assert (job.state, job.total, job.progress) == ("done", 6, 6)
    assert job.summary == "5 deactivated; 1 skipped: already inactive — Ann B."
    page = alice_client.get(response["Location"]).content.decode()
    assert "5 deactivated" in page and f"?{filters}" in page
    progress = alice_client.get(response["Location"], headers={"Accept": "application/json"}).json()
    assert progress == {"state": "done", "progress": 6, "total": 6, "percent": 100}
    assert not group.members.filter(status="active").exists()


def test_someone_elses_bulk_job_is_a_404(alice_client, alice, acme):
    from accounts.models import BulkJob

    other_admin = AdministratorFactory(organization=acme)
    job = BulkJob.objects.create(organization=acme, created_by=other_admin, action="delete")
    assert alice_client.get(reverse("accounts:user_bulk_job", args=[job.pk])).status_code == 404


def test_a_percent_sign_in_a_group_name_is_harmless(alice_client, alice, bob):
    group = UserGroupFactory(organization=alice.organization, name="100% club")
    response = alice_client.post(
        URL, {"confirmed": "1", "action": "add_to_group", "group": group.pk, "ids": [bob.pk]}, follow=True
    )
    assert messages_of(response) == ["1 added to 100% club."]


def test_all_matching_with_an_invalid_filter_changes_nobody(alice_client, alice, bob, mallory):
    foreign_group = UserGroupFactory(organization=mallory.organization)
    response = alice_client.post(
        URL,
        {"action": "deactivate", "all_matching": "1", "filters": f"group={foreign_group.pk}", "confirmed": "1"},
        follow=True,
    )
    assert "nothing was changed" in messages_of(response)[0]
    bob.refresh_from_db()
    assert bob.status == "active"


def test_a_background_job_whose_filter_became_invalid_changes_nobody(alice, bob):
    from accounts.models import BulkJob
    from flows.tasks import bulk_run_job

    group = UserGroupFactory(organization=alice.organization)
    job = BulkJob.objects.create(
        organization=alice.organization, created_by=alice, action="deactivate", filters=f"group={group.pk}", total=1
    )
    group.delete()
    bulk_run_job(job.pk)
    job.refresh_from_db()
    assert job.state == "failed" and "nothing was changed" in job.summary
    bob.refresh_from_db()
    assert bob.status == "active"


# Every bulk action that moves people between statuses, against one person in each status: who
# moves (DESIGN §5's table) and why the others are skipped.
STATUSES = ["created", "invited", "active", "inactive", "deleted"]
STATUS_ACTIONS = {
    # action: (the statuses it applies to, the status they end in, the done message)
    "activate": ({"created", "invited"}, "active", "activated, each sent a temporary password"),
    "invite": ({"created", "invited"}, "invited", "invited"),
    "deactivate": ({"active"}, "inactive", "deactivated"),
    "reactivate": ({"inactive"}, "active", "reactivated"),
    "delete": ({"created", "invited", "active", "inactive"}, "deleted", "deleted"),
    "restore": ({"deleted"}, "inactive", "restored"),
}


@pytest.mark.parametrize("action", sorted(STATUS_ACTIONS))
def test_each_status_action_moves_only_the_people_its_transition_applies_to(alice_client, alice, action):
    sources, target, done = STATUS_ACTIONS[action]
    people = {status: make(alice.organization, status.title(), "Person", status) for status in STATUSES}
    response = alice_client.post(
        URL, {"action": action, "ids": [u.pk for u in people.values()], "confirmed": "1"}, follow=True
    )
    (message,) = messages_of(response)
    assert message.startswith(f"{len(sources)} {done}"), message
    for status, person in people.items():
        person.refresh_from_db()
        if status in sources:
            assert person.status == target, (status, person.status)
        else:
            assert person.status == status, f"{action} moved a {status} person to {person.status}"
            assert f"{person.short_name}" in message, (status, message)
    if action != "invite":  # the invitation service words its own reasons
        for status in set(STATUSES) - sources:
            reason = "already" if status == target else "currently"
            assert f"{reason} {status} — {people[status].short_name}" in message, (status, message)
