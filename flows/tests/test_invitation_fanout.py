"""The invitations' fan-out: the bulk job that turns people into invitations, a chunk per transaction.

It runs on the same worker processes as the delivery (issue 12), so what it writes is pinned here
row by row, and what it costs is bounded: a number of queries per chunk that does not grow with the
chunk, each person's row read once to decide and once under the lock.
"""

import dataclasses
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import StatusChange, User
from accounts.tests.factories import MembershipFactory, UserFactory
from audit.models import AuditEvent
from experquiz import request_context
from flows import bulk
from invitations.models import Invitation, InvitationBatch

pytestmark = pytest.mark.django_db


def person(org, first, last, status="created", group=None, **extra):
    user = UserFactory(organization=org, first_name=first, last_name=last, status=status, **extra)
    if group is not None:
        MembershipFactory(group=group, user=user)
    return user


def invite(people, actor, *, chunk=bulk.INVITE_CHUNK, params=None):
    action = dataclasses.replace(bulk.REGISTRY["invite"], chunk=chunk)
    users = User.objects.filter(pk__in=[user.pk for user in people])
    with request_context.bound(client_ip="203.0.113.7", request_id="req-fanout"):
        return bulk.run(action, users=users, actor=actor, params={} if params is None else params)


def test_the_fan_out_writes_the_same_rows_as_ever(maggie, lyon, paris, django_capture_on_commit_callbacks):
    """Every row a chunk writes, field by field: the invitations, the status history and the audit
    events (labels, details, request context), and the outcome with its skips and their order."""
    acme = maggie.organization
    nina = person(acme, "Nina", "New", group=lyon, email="nina@acme.example")
    ivan = person(
        acme, "Ivan", "Again", "invited", group=lyon, email="", mobile="+33612345678", preferred_channel="sms"
    )
    zoe = person(acme, "Zoe", "Active", "active", group=lyon, email="zoe@acme.example")
    abel = person(acme, "Abel", "Active", "active", group=lyon, email="abel@acme.example")
    otto = person(acme, "Otto", "Outscope", group=paris, email="otto@acme.example")
    cleo = person(acme, "Cleo", "Created", group=lyon, email="cleo@acme.example")
    earlier = Invitation.objects.create(
        organization=acme, kind="account", user=ivan, channel="sms", address="+33612345678", created_by=maggie
    )
    params = {}
    with django_capture_on_commit_callbacks(execute=False):
        outcome = invite([nina, ivan, zoe, abel, otto, cleo], maggie, chunk=4, params=params)

    assert outcome.summary() == (
        "3 invited; 2 skipped: already active — Abel A., Zoe A.; 1 skipped: outside your right to invite — Otto O."
    )
    batch = InvitationBatch.objects.get()
    assert params["batch_id"] == batch.pk and outcome.link == f"/invitations/batches/{batch.pk}/"
    assert str(batch) == "Invitations from the users list"
    earlier.refresh_from_db()
    assert earlier.revoked_at is not None
    new = Invitation.objects.exclude(pk=earlier.pk).order_by("pk")
    assert [
        (row.user_id, row.kind, row.channel, row.address, row.batch_id, row.created_by_id, row.revoked_at, row.delivery)
        for row in new
    ] == [
        (nina.pk, "account", "email", "nina@acme.example", batch.pk, maggie.pk, None, "pending"),
        (ivan.pk, "account", "sms", "+33612345678", batch.pk, maggie.pk, None, "pending"),
        (cleo.pk, "account", "email", "cleo@acme.example", batch.pk, maggie.pk, None, "pending"),
    ]
    assert [
        (row.user_id, row.from_status, row.to_status, row.actor_id, row.reason)
        for row in StatusChange.objects.filter(to_status="invited").order_by("pk")
    ] == [
        (nina.pk, "created", "invited", maggie.pk, "Invitation sent"),
        (ivan.pk, "invited", "invited", maggie.pk, "Invitation sent"),
        (cleo.pk, "created", "invited", maggie.pk, "Invitation sent"),
    ]
    nina_link, ivan_link, cleo_link = new
    events = AuditEvent.objects.filter(action__in=["user.status_changed", "invitation.sent", "invitation.resent"])
    assert [
        (
            e.organization_id,
            e.actor_id,
            e.action,
            e.target_user_id,
            e.target_type,
            e.target_id,
            e.target_label,
            e.before,
            e.after,
            e.client_ip,
            e.request_id,
        )
        for e in events.order_by("pk")
    ] == [
        # The first chunk (Nina, Ivan, Zoe, Abel: chunks go by id), its status changes, then its links.
        (acme.pk, maggie.pk, "user.status_changed", nina.pk, "user", nina.pk, "", {"status": "created"},
         {"status": "invited", "reason": "Invitation sent"}, "203.0.113.7", "req-fanout"),
        (acme.pk, maggie.pk, "invitation.sent", nina.pk, "invitation", nina_link.pk,
         "Account invitation → nina@acme.example", {}, {"batch": "Invitations from the users list"},
         "203.0.113.7", "req-fanout"),
        (acme.pk, maggie.pk, "invitation.resent", ivan.pk, "invitation", ivan_link.pk,
         "Account invitation → +33612345678", {}, {"batch": "Invitations from the users list"},
         "203.0.113.7", "req-fanout"),
        # The second chunk (Otto, Cleo).
        (acme.pk, maggie.pk, "user.status_changed", cleo.pk, "user", cleo.pk, "", {"status": "created"},
         {"status": "invited", "reason": "Invitation sent"}, "203.0.113.7", "req-fanout"),
        (acme.pk, maggie.pk, "invitation.sent", cleo.pk, "invitation", cleo_link.pk,
         "Account invitation → cleo@acme.example", {}, {"batch": "Invitations from the users list"},
         "203.0.113.7", "req-fanout"),
    ]  # fmt: skip
    assert set(User.objects.filter(pk__in=[nina.pk, ivan.pk, cleo.pk]).values_list("status", flat=True)) == {"invited"}
    assert set(User.objects.filter(pk__in=[zoe.pk, abel.pk, otto.pk]).values_list("status", flat=True)) == {
        "active",
        "created",
    }


def _queries_inviting(acme, alice, n):
    people = [person(acme, f"P{i}", "Person", email=f"p{n}-{i}@acme.example") for i in range(n)]
    with CaptureQueriesContext(connection) as queries:
        outcome = invite(people, alice)
    assert len(outcome.done) == n
    return [query["sql"] for query in queries.captured_queries]


def test_a_chunk_costs_the_same_queries_however_many_people_it_holds(acme, alice):
    """No query per person: inviting 3 people or 30 in one chunk takes the same queries."""
    from accounts.selectors import people_changed

    people_changed(acme.pk)  # on SQLite the first write of an organisation creates its version's row
    few = _queries_inviting(acme, alice, 3)
    many = _queries_inviting(acme, alice, 30)
    assert len(many) == len(few), "\n".join(many)


def test_a_chunk_reads_each_persons_address_once_to_decide_and_once_under_the_lock(acme, alice):
    """The people of a chunk are read once to decide whom to invite (their status), and once more
    as they are locked (their address then, which a change made meanwhile may have replaced): not
    again for the bulk action, nor after the lock."""
    queries = _queries_inviting(acme, alice, 5)
    reads = [sql for sql in queries if re.match(r'SELECT .*"accounts_user"\."email".* FROM "accounts_user"', sql)]
    assert len(reads) == 2, "\n\n".join(reads)
    assert "FOR NO KEY UPDATE" in reads[1] or connection.vendor != "postgresql"
