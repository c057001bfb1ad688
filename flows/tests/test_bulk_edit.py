"""Bulk edit of the type, the language and the preferred channel from the users list, and the undo of
a bulk edit or of a bulk change of group (issue 13: one confirmation pattern, then a clear result
that can be undone)."""

import dataclasses
import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import BulkChange, BulkJob, User
from accounts.services import user_update
from accounts.tests.factories import MembershipFactory, UserFactory, UserGroupFactory, UserTypeFactory
from audit.models import Action, AuditEvent
from flows import bulk
from flows.jobs import bulk_job_start, bulk_undo_start
from groups.models import Membership

pytestmark = pytest.mark.django_db
URL = reverse("accounts:user_bulk")


def make(org, first, last, **fields):
    return UserFactory(organization=org, first_name=first, last_name=last, **fields)


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


def text(response) -> str:
    """The page's visible text, one space between words."""
    body = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", html.unescape(body))


def undo_url(job):
    return reverse("accounts:user_bulk_undo", args=[job.pk])


@pytest.fixture
def trainer(acme):
    return UserTypeFactory(organization=acme, name="Trainer")


@pytest.fixture
def student(acme):
    return UserTypeFactory(organization=acme, name="Student")


def test_set_type_asks_the_value_then_confirms_then_does_it_and_offers_undo(alice_client, acme, trainer, student):
    ann = make(acme, "Ann", "Bee", user_type=student)
    carl = make(acme, "Carl", "Dee")
    eve = make(acme, "Eve", "Fox", user_type=trainer)
    chosen = {"action": "set_type", "ids": [ann.pk, carl.pk, eve.pk]}

    response = alice_client.post(URL, chosen)
    page = text(response)
    assert "Set the type: 3 users" in page and "New type" in page and "Trainer" in page

    response = alice_client.post(URL, {**chosen, "value": trainer.pk})
    page = text(response)
    assert "Set the type to ‘Trainer’ for 2 users; 1 skipped: already ‘Trainer’." in page
    assert "You can undo it afterwards" in page
    assert f'name="value" value="{trainer.pk}"' in response.content.decode()
    assert not User.objects.filter(pk__in=[ann.pk, carl.pk], user_type=trainer).exists()  # nothing written yet
    assert not BulkJob.objects.exists() and not AuditEvent.objects.filter(action=Action.USER_UPDATED).exists()

    response = alice_client.post(URL, {**chosen, "value": trainer.pk, "confirmed": "1"}, follow=True)
    (message,) = messages_of(response)
    assert message.startswith("2 changed to type ‘Trainer’; 1 skipped: already ‘Trainer’ — Eve F.")
    assert set(User.objects.filter(user_type=trainer).values_list("pk", flat=True)) == {ann.pk, carl.pk, eve.pk}
    job = BulkJob.objects.get()
    assert (job.action, job.state, job.params["value"]) == ("set_type", "done", trainer.pk)
    assert dict(job.changes.values_list("user_id", "before")) == {ann.pk: student.pk, carl.pk: None}
    assert undo_url(job) in message and ">Undo<" in message

    # Undo: a POST that first says what it will do, then does it.
    response = alice_client.post(undo_url(job))
    assert "Undo “Set the type to ‘Trainer’” for 2 users." in text(response)
    assert User.objects.get(pk=ann.pk).user_type == trainer
    response = alice_client.post(undo_url(job), {"confirmed": "1"}, follow=True)
    assert messages_of(response) == ["2 put back as they were."]
    assert dict(User.objects.filter(pk__in=[ann.pk, carl.pk, eve.pk]).values_list("pk", "user_type_id")) == {
        ann.pk: student.pk,
        carl.pk: None,
        eve.pk: trainer.pk,
    }
    undone = AuditEvent.objects.get(action=Action.BULK_UNDONE)
    assert (undone.actor, undone.target_label, undone.after) == (
        job.created_by,
        "Set the type to ‘Trainer’",
        {"action": "set_type", "people": 2},
    )
    # Once only.
    response = alice_client.post(undo_url(job), {"confirmed": "1"}, follow=True)
    assert messages_of(response) == ["This action was already undone."]


def test_the_undo_skips_those_changed_since_and_counts_them(alice_client, alice, acme, trainer):
    ann, carl = make(acme, "Ann", "Bee"), make(acme, "Carl", "Dee")
    alice_client.post(URL, {"action": "set_type", "ids": [ann.pk, carl.pk], "value": trainer.pk, "confirmed": "1"})
    job = BulkJob.objects.get()
    user_update(
        user=carl,
        actor=alice,
        first_name="Carl",
        last_name="Dee",
        email=carl.email,
        mobile="",
        preferred_channel="email",
        language="en",
        user_type=None,
    )
    response = alice_client.post(undo_url(job))
    assert "Undo “Set the type to ‘Trainer’” for 1 user; 1 skipped: type changed since." in text(response)
    response = alice_client.post(undo_url(job), {"confirmed": "1"}, follow=True)
    assert messages_of(response) == ["1 put back as they were; 1 skipped: type changed since — Carl D."]
    ann.refresh_from_db()
    assert ann.user_type is None


def test_set_channel_skips_those_without_the_address_and_says_so_before_and_after(alice_client, acme):
    ann = make(acme, "Ann", "Bee", mobile="+33612345678")
    carl = make(acme, "Carl", "Dee", mobile="")
    chosen = {"action": "set_channel", "ids": [ann.pk, carl.pk], "value": "sms"}
    page = text(alice_client.post(URL, chosen))
    assert "Set the preferred channel to ‘SMS’ for 1 user; 1 skipped: no mobile number." in page
    response = alice_client.post(URL, {**chosen, "confirmed": "1"}, follow=True)
    (message,) = messages_of(response)
    assert message.startswith("1 changed to preferred channel ‘SMS’; 1 skipped: no mobile number — Carl D.")
    assert User.objects.get(pk=ann.pk).preferred_channel == "sms"
    assert User.objects.get(pk=carl.pk).preferred_channel == "email"


def test_set_language_for_all_matching_users(alice_client, acme):
    group = UserGroupFactory(organization=acme, name="Night shift")
    members = [MembershipFactory(group=group, user=make(acme, f"M{n}", "Night")).user for n in range(3)]
    outsider = make(acme, "Out", "Sider")
    filters = f"group={group.pk}"
    response = alice_client.post(
        URL, {"action": "set_language", "all_matching": "1", "filters": filters, "value": "fr", "confirmed": "1"}
    )
    assert response["Location"] == reverse("accounts:user_list") + "?" + filters
    assert all(u.language == "fr" for u in User.objects.filter(pk__in=[m.pk for m in members]))
    outsider.refresh_from_db()
    assert outsider.language == "en"


def test_a_value_that_is_not_offered_asks_again_and_writes_nothing(alice_client, acme, bob, mallory, trainer):
    foreign = UserTypeFactory(organization=mallory.organization, name="Globex type")
    for value in ("", "abc", foreign.pk, 10**20):
        response = alice_client.post(URL, {"action": "set_type", "ids": [bob.pk], "value": value, "confirmed": "1"})
        assert response.status_code == 200
        assert "Globex type" not in text(response)
        if value != "":
            assert "Choose one of the values offered." in text(response)
    response = alice_client.post(URL, {"action": "set_language", "ids": [bob.pk], "value": "xx", "confirmed": "1"})
    assert "Choose one of the values offered." in text(response)
    bob.refresh_from_db()
    assert (bob.user_type, bob.language) == (None, "en")
    assert not BulkJob.objects.exists()


def test_without_any_user_type_the_list_says_where_to_add_them(alice_client, bob):
    response = alice_client.post(URL, {"action": "set_type", "ids": [bob.pk]}, follow=True)
    assert "add them under “User types” first" in messages_of(response)[0]


def test_a_group_scoped_manager_edits_only_people_of_their_groups(maggie_client, maggie, ines, otto, trainer):
    maggie_client.post(URL, {"action": "set_type", "ids": [ines.pk, otto.pk], "value": trainer.pk, "confirmed": "1"})
    ines.refresh_from_db(), otto.refresh_from_db()
    assert (ines.user_type, otto.user_type) == (trainer, None)
    maggie_client.post(
        URL, {"action": "set_language", "all_matching": "1", "filters": "", "value": "fr", "confirmed": "1"}
    )
    otto.refresh_from_db()
    assert otto.language == "en"
    assert User.objects.get(pk=ines.pk).language == "fr"


def test_the_edit_is_refused_without_the_right_to_manage_users(bob_client, bob, acme, trainer):
    from groups.tests.factories import grant
    from rights.names import Right

    response = bob_client.post(URL, {"action": "set_type", "ids": [bob.pk], "value": trainer.pk, "confirmed": "1"})
    assert response.status_code == 403
    inviter = make(acme, "Ivy", "Inviter")
    grant(inviter, Right.INVITE)
    from conftest import tenant_client

    response = tenant_client(acme, inviter).post(
        URL, {"action": "set_language", "ids": [bob.pk], "value": "fr", "confirmed": "1"}
    )
    assert response.status_code == 403
    bob.refresh_from_db()
    assert (bob.user_type, bob.language) == (None, "en")


def test_undo_of_add_to_group_removes_only_the_memberships_it_made(alice_client, alice, acme):
    from groups.services import group_add_members, group_remove_members

    sales = UserGroupFactory(organization=acme, name="Sales")
    ann, carl, eve, gus = (make(acme, n, "X") for n in ("Ann", "Carl", "Eve", "Gus"))
    MembershipFactory(group=sales, user=gus)  # already in: skipped, and kept by the undo
    response = alice_client.post(
        URL,
        {"action": "add_to_group", "group": sales.pk, "ids": [ann.pk, carl.pk, eve.pk, gus.pk], "confirmed": "1"},
        follow=True,
    )
    assert messages_of(response)[0].startswith("3 added to Sales; 1 skipped: already in Sales — Gus X.")
    job = BulkJob.objects.get()
    group_remove_members(group=sales, users=[carl], actor=alice)  # gone since
    group_remove_members(group=sales, users=[eve], actor=alice)
    group_add_members(group=sales, users=[eve], actor=alice)  # removed, then added again by someone
    page = text(alice_client.post(undo_url(job)))
    assert (
        "Undo “Add to Sales” for 1 user; 1 skipped: added to Sales again since; 1 skipped: not in Sales any more."
        in page
    )
    response = alice_client.post(undo_url(job), {"confirmed": "1"}, follow=True)
    assert messages_of(response) == [
        "1 put back as they were; 1 skipped: not in Sales any more — Carl X.; "
        "1 skipped: added to Sales again since — Eve X."
    ]
    assert set(sales.members.all()) == {eve, gus}


def test_undo_of_remove_from_group_puts_the_memberships_back_as_they_were(alice_client, alice, acme):
    from datetime import timedelta

    from django.utils import timezone

    sales = UserGroupFactory(organization=acme, name="Sales")
    added_by = make(acme, "Old", "Admin")
    ann, carl = make(acme, "Ann", "Bee"), make(acme, "Carl", "Dee")
    long_ago = timezone.now() - timedelta(days=400)
    for person in (ann, carl):
        MembershipFactory(group=sales, user=person, added_by=added_by)
    Membership.objects.filter(group=sales).update(added_at=long_ago)
    alice_client.post(
        URL, {"action": "remove_from_group", "group": sales.pk, "ids": [ann.pk, carl.pk], "confirmed": "1"}, follow=True
    )
    assert not sales.members.exists()
    job = BulkJob.objects.get()
    MembershipFactory(group=sales, user=carl)  # back since
    response = alice_client.post(undo_url(job), {"confirmed": "1"}, follow=True)
    assert messages_of(response) == ["1 put back as they were; 1 skipped: back in Sales since — Carl D."]
    membership = Membership.objects.get(group=sales, user=ann)
    assert (membership.added_at, membership.added_by) == (long_ago, added_by)
    assert AuditEvent.objects.filter(action=Action.GROUP_MEMBER_ADDED, target_user=ann, actor=alice).exists()


def test_big_selections_run_in_a_worker_and_their_page_offers_the_undo(
    alice_client, alice, acme, trainer, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(bulk, "SYNC_MAX", 3)
    monkeypatch.setitem(bulk.REGISTRY, "set_type", dataclasses.replace(bulk.REGISTRY["set_type"], chunk=2))
    monkeypatch.setitem(bulk.REGISTRY, "undo", dataclasses.replace(bulk.REGISTRY["undo"], chunk=2))
    group = UserGroupFactory(organization=acme, name="Night shift")
    members = [MembershipFactory(group=group, user=make(acme, f"M{n}", "Night")).user for n in range(5)]
    MembershipFactory(group=group, user=make(acme, "Ann", "Bee", user_type=trainer))
    filters = f"group={group.pk}"
    chosen = {"action": "set_type", "all_matching": "1", "filters": filters, "value": trainer.pk}
    assert "Set the type to ‘Trainer’ for 5 users; 1 skipped: already ‘Trainer’." in text(
        alice_client.post(URL, chosen)
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(URL, {**chosen, "confirmed": "1"})
    job = BulkJob.objects.get()
    assert response["Location"] == reverse("accounts:user_bulk_job", args=[job.pk])
    assert (job.state, job.progress, job.summary) == (
        "done",
        6,
        "5 changed to type ‘Trainer’; 1 skipped: already ‘Trainer’ — Ann B.",
    )
    assert job.changes.count() == 5
    page = alice_client.get(response["Location"]).content.decode()
    assert undo_url(job) in page

    # The undo of more people than a request changes runs in a worker too, and its page says what it did.
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(undo_url(job), {"confirmed": "1"})
    undo = BulkJob.objects.get(undo_of=job)
    assert response["Location"] == reverse("accounts:user_bulk_job", args=[undo.pk])
    undo.refresh_from_db()
    assert (undo.state, undo.summary) == ("done", "5 put back as they were.")
    assert not User.objects.filter(pk__in=[m.pk for m in members], user_type=trainer).exists()
    page = text(alice_client.get(response["Location"]))
    assert "Undoing “Set the type to ‘Trainer’”." in page
    assert "This action was undone." in text(alice_client.get(reverse("accounts:user_bulk_job", args=[job.pk])))


def test_each_chunk_costs_the_same_few_queries_whatever_its_size(alice, acme, trainer):
    """Per chunk: the scope, one locked read, one UPDATE, one insert of audit events, one of the undo's
    rows; nothing per person."""
    from accounts.selectors import people_changed

    people_changed(acme.pk)  # on SQLite the first write of an organisation creates its version's row
    counts = []
    for n in (3, 30):
        people = [make(acme, f"P{n}-{i}", "Q") for i in range(n)]
        job = BulkJob.objects.create(organization=acme, created_by=alice, action="set_type")
        users = User.objects.filter(pk__in=[p.pk for p in people])
        with CaptureQueriesContext(connection) as queries:
            outcome = bulk.run(
                bulk.REGISTRY["set_type"], users=users, actor=alice, params={"value": trainer.pk, "job_id": job.pk}
            )
        assert len(outcome.done) == n and job.changes.count() == n
        counts.append(len(queries))
        assert len([q for q in queries.captured_queries if q["sql"].startswith('UPDATE "accounts_user"')]) == 1
    assert counts[0] == counts[1], counts


def test_only_whoever_ran_the_action_undoes_it(alice, acme, bob, trainer, make_client):
    from accounts.tests.factories import AdministratorFactory
    from experquiz.authorization import NotAllowed

    job = bulk_job_start(
        organization=acme,
        actor=alice,
        action=bulk.REGISTRY["set_type"],
        filters="",
        total=1,
        params={"value": trainer.pk},
        ids=[bob.pk],
        background=False,
    )
    other_admin = AdministratorFactory(organization=acme)
    assert make_client(acme, other_admin).post(undo_url(job), {"confirmed": "1"}).status_code == 404
    with pytest.raises(NotAllowed):
        bulk_undo_start(job=job, actor=other_admin)
    bob.refresh_from_db()
    assert bob.user_type == trainer
    assert not BulkJob.objects.filter(undo_of=job).exists()


def test_what_cannot_be_undone_says_why(alice_client, alice, acme, bob):
    deactivated = BulkJob.objects.create(organization=acme, created_by=alice, action="deactivate", state="done")
    response = alice_client.post(undo_url(deactivated), follow=True)
    assert messages_of(response) == ["This action cannot be undone."]
    nothing = BulkJob.objects.create(
        organization=acme, created_by=alice, action="set_language", state="done", params={"value": "fr"}
    )
    response = alice_client.post(undo_url(nothing), follow=True)
    assert messages_of(response) == ["This action changed nobody: there is nothing to undo."]
    running = BulkJob.objects.create(organization=acme, created_by=alice, action="set_language", params={"value": "fr"})
    BulkChange.objects.create(organization=acme, job=running, user=bob, before="en")
    response = alice_client.post(undo_url(running), {"confirmed": "1"}, follow=True)
    assert messages_of(response) == ["This action is still running: undo it once it is over."]
    assert alice_client.get(undo_url(running)).status_code == 405


def test_the_pages_and_results_are_in_french(alice_client, alice, acme, trainer):
    alice.language = "fr"
    alice.save()
    ann = make(acme, "Ann", "Bee", mobile="")
    carl = make(acme, "Carl", "Dee", mobile="+33612345678")
    chosen = {"action": "set_channel", "ids": [ann.pk, carl.pk]}
    page = text(alice_client.post(URL, chosen, HTTP_ACCEPT_LANGUAGE="fr"))
    assert "Nouveau canal préféré" in page
    page = text(alice_client.post(URL, {**chosen, "value": "sms"}, HTTP_ACCEPT_LANGUAGE="fr"))
    assert "Passer le canal préféré à « SMS » pour 1 utilisateur ; 1 ignoré : pas de numéro de mobile." in page
    response = alice_client.post(
        URL, {**chosen, "value": "sms", "confirmed": "1"}, HTTP_ACCEPT_LANGUAGE="fr", follow=True
    )
    (message,) = messages_of(response)
    assert message.startswith("1 passés au canal préféré « SMS » ; 1 ignoré : pas de numéro de mobile — Ann B.")
    assert ">Annuler l’action<" in message
    job = BulkJob.objects.get()
    page = text(alice_client.post(undo_url(job), HTTP_ACCEPT_LANGUAGE="fr"))
    assert "Annuler « Passer le canal préféré à “SMS” » pour 1 utilisateur." in page
    response = alice_client.post(undo_url(job), {"confirmed": "1"}, HTTP_ACCEPT_LANGUAGE="fr", follow=True)
    assert messages_of(response) == ["1 remis comme avant."]


def test_people_who_left_the_undoers_scope_are_counted_not_named(maggie_client, maggie, ines, lyon, paris, acme):
    from groups.services import group_remove_members

    nina = make(acme, "Nina", "Newlyon", language="en")
    MembershipFactory(group=lyon, user=nina)
    maggie_client.post(URL, {"action": "set_language", "ids": [ines.pk, nina.pk], "value": "fr", "confirmed": "1"})
    job = BulkJob.objects.get()
    group_remove_members(group=lyon, users=[nina], actor=None)  # Nina moves out of Maggie's groups
    MembershipFactory(group=paris, user=nina)
    page = text(maggie_client.post(undo_url(job)))
    assert "for 1 user; 1 skipped: outside your rights." in page
    assert "Nina" not in page
    response = maggie_client.post(undo_url(job), {"confirmed": "1"}, follow=True)
    assert messages_of(response) == ["1 put back as they were; 1 skipped: outside your rights."]
    assert User.objects.get(pk=nina.pk).language == "fr"
    assert User.objects.get(pk=ines.pk).language == "en"
