"""The whole path through real parts: a Celery worker on Redis, an SMTP server, an SMS gateway.

The fault tests (issue 10) run the worker with the product's default delivery settings, as deployed,
and count what the receiving servers got: nothing lost, at most the message in flight at the fault
sent twice (SMTP cannot be exactly-once), every link that arrived opens its page, and everything
delivered within two minutes of the fault's end. Each prints how long recovery took, measured.
"""

import threading
import time
from collections import Counter
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import AdministratorFactory, OrganizationFactory, UserFactory
from invitations.models import Invitation

from .helpers import LINK
from .realworld import body_text, publishing_to, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "violet-umbrella-42"
RECOVERY_LIMIT = 120  # seconds, from the end of the fault to the last message delivered (issue 10)


@pytest.fixture
def acme(real_db):
    return OrganizationFactory(slug="acme", name="Acme")


@pytest.fixture
def alice(acme):
    return AdministratorFactory(organization=acme, email="alice@acme.example")


def created_users(organization, count, first=0, **kwargs):
    return [
        UserFactory(organization=organization, email=f"user{n}@acme.example", status="created", **kwargs)
        for n in range(first, first + count)
    ]


def texting_users(organization, count):
    return [
        UserFactory(
            organization=organization, email="", mobile=f"+3361234567{n}", preferred_channel="sms", status="created"
        )
        for n in range(count)
    ]


def send_from_the_users_page(alice, users):
    """What the administrator does: POST "send invitations" for these users."""
    client = Client(HTTP_HOST="acme.localhost")
    client.force_login(alice)
    started = time.monotonic()
    response = client.post("/invitations/users/send/", {"users": [user.pk for user in users], "confirmed": "1"})
    assert response.status_code == 302, response.content
    return time.monotonic() - started


# --- What the receiving servers got -------------------------------------------------------------------


class Received:
    """The messages of `users`' invitations that reached the SMTP server and the SMS gateway."""

    def __init__(self, users, smtp_server, sms_gateway):
        self.rows = {row.pk: row for row in Invitation.objects.filter(user__in=users)}
        self.by_number = {row.address: row.pk for row in self.rows.values() if row.channel == "sms"}
        self.smtp_server, self.sms_gateway = smtp_server, sms_gateway

    def messages(self):
        """(invitation id, the link it carries) for every message received, in order."""
        found = [
            (int(message["X-ExperQuiz-Invitation"]), LINK.search(body_text(message)).group(0))
            for message in self.smtp_server.messages
            if int(message["X-ExperQuiz-Invitation"]) in self.rows
        ]
        found += [
            (self.by_number[post["to"]], LINK.search(post["body"]).group(0))
            for post in list(self.sms_gateway.posts)
            if post["to"] in self.by_number
        ]
        return found

    def counts(self) -> Counter:
        return Counter(pk for pk, _link in self.messages())

    def all_delivered(self) -> bool:
        """Every invitation arrived, and the database says so (a row still pending could go again)."""
        return (
            set(self.counts()) == set(self.rows)
            and not Invitation.objects.filter(pk__in=list(self.rows), delivery="pending").exists()
        )

    def check(self) -> int:
        """Nothing lost, at most one message twice, the same link in both copies, every link opens its
        page. Returns the number of duplicates."""
        counts = self.counts()
        assert set(counts) == set(self.rows), f"lost: {sorted(set(self.rows) - set(counts))}"
        assert set(Invitation.objects.filter(pk__in=list(self.rows)).values_list("delivery", flat=True)) == {"sent"}
        duplicates = sum(count - 1 for count in counts.values())
        assert duplicates <= 1, f"more than the message in flight went twice: {counts.most_common(3)}"
        links = {}
        for pk, link in self.messages():
            assert links.setdefault(pk, link) == link, f"invitation {pk}: two copies with different links"
        for link in links.values():
            parts = urlsplit(link)
            assert Client(HTTP_HOST=parts.netloc).get(parts.path).status_code == 200, f"{link} does not open"
        return duplicates

    def duplicated(self):
        return [pk for pk, count in self.counts().items() if count > 1]


def wait_for_delivery(received, fault_ended, what, capsys):
    """Wait (at most a little more than the limit) for everything, and print how long it took."""
    wait_until(received.all_delivered, timeout=RECOVERY_LIMIT + 30, interval=0.25, message=f"delivery after {what}")
    took = time.monotonic() - fault_ended
    duplicates = received.check()
    with capsys.disabled():
        print(f"\n[recovery] {what}: all delivered {took:.1f}s after the fault ended; {duplicates} sent twice")
    assert took < RECOVERY_LIMIT
    return duplicates


def follow_link_and_finish(link, user):
    """Open the link from the message, as the invited person would, and finish the account."""
    parts = urlsplit(link)
    client = Client(HTTP_HOST=parts.netloc)
    assert client.get(parts.path).status_code == 200
    response = client.post(
        parts.path,
        {"first_name": "Invited", "last_name": "Person", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.status == "active"
    fresh = Client(HTTP_HOST=parts.netloc)
    assert fresh.post("/login/", {"username": user.login_id, "password": NEW_PASSWORD}).status_code == 302
    assert fresh.get("/me/").status_code == 200


def first_copy_opens_the_account(received):
    """The copy that arrived first of the message sent twice: its link finishes the account."""
    (pk,) = received.duplicated()
    first_link = next(link for row, link in received.messages() if row == pk)
    follow_link_and_finish(first_link, User.objects.get(invitations=pk))


# --- The path when nothing goes wrong ----------------------------------------------------------------


def test_invitations_reach_smtp_and_sms_through_a_real_worker_and_the_links_work(
    acme, alice, make_worker, shared_redis_url, smtp_server, sms_gateway, settings
):
    settings.INVITATIONS_PACKET_SIZE = 2  # three packets for three emails and two SMS
    emails = created_users(acme, 2) + [
        UserFactory(organization=acme, email="zoe@acme.example", status="created", language="fr")
    ]
    texts = texting_users(acme, 2)
    worker = make_worker(shared_redis_url)
    worker.start(beat=False)
    with publishing_to(shared_redis_url):
        send_from_the_users_page(alice, emails + texts)
    received = Received(emails + texts, smtp_server, sms_gateway)
    wait_until(received.all_delivered, timeout=30)

    assert received.check() == 0
    (french,) = smtp_server.to("zoe@acme.example")
    assert "invite" in french["Subject"] and french.get_body(preferencelist=("html",)) is not None
    assert {post["to"] for post in sms_gateway.posts} == {"+33612345670", "+33612345671"}
    assert all(len(post["body"]) <= 160 for post in sms_gateway.posts)

    email_link = LINK.search(body_text(smtp_server.to("user0@acme.example")[0])).group(0)
    follow_link_and_finish(email_link, emails[0])
    sms_link = LINK.search(sms_gateway.to("+33612345670")[0]["body"]).group(0)
    follow_link_and_finish(sms_link, texts[0])


def test_two_copies_of_a_packet_running_at_once_send_each_message_once(acme, alice, smtp_server, sms_gateway, settings):
    """What a redelivered task or a sweeper re-enqueue amounts to: the claim and the row locks share
    the work."""
    from invitations.services import account, delivery

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.port
    users = created_users(acme, 40)
    publish = account.invitations_enqueue
    account.invitations_enqueue = lambda **kwargs: None  # nothing queued: the two copies below are the tasks
    try:
        account.invitations_send(organization=acme, users=User.objects.filter(organization=acme), actor=alice)
    finally:
        account.invitations_enqueue = publish
    ids = list(Invitation.objects.filter(user__in=users).values_list("pk", flat=True))
    outcomes = []

    def run(task):
        try:
            outcomes.append(delivery.invitations_deliver(invitation_ids=ids, task=task))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(f"copy-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(len(outcome.sent) for outcome in outcomes) == 40
    assert Received(users, smtp_server, sms_gateway).check() == 0


# --- Faults, with the default settings ----------------------------------------------------------------


def test_smtp_down_then_back(acme, alice, make_worker, shared_redis_url, smtp_server, sms_gateway, capsys):
    emails, texts = created_users(acme, 6), texting_users(acme, 2)
    smtp_server.stop()
    worker = make_worker(shared_redis_url)
    worker.start()
    with publishing_to(shared_redis_url):
        send_from_the_users_page(alice, emails + texts)
    wait_until(
        lambda: Invitation.objects.filter(user__in=emails).exclude(last_error="").count() == 6,
        message="the outage to be noticed",
    )
    # An outage uses none of the messages' attempts, and does not hold up the other channel.
    assert set(Invitation.objects.filter(user__in=emails).values_list("delivery", "attempts")) == {("pending", 0)}
    wait_until(lambda: len(sms_gateway.posts) == 2, message="the text messages")
    smtp_server.start()
    assert (
        wait_for_delivery(Received(emails + texts, smtp_server, sms_gateway), time.monotonic(), "SMTP back", capsys)
        == 0
    )


def test_a_worker_killed_mid_packet_then_restarted(
    acme, alice, make_worker, shared_redis_url, smtp_server, sms_gateway, capsys
):
    users = created_users(acme, 24) + texting_users(acme, 2)
    # The SMTP server takes the 11th message and holds its answer; the worker is killed meanwhile: the
    # message reached the person, but the worker never heard so.
    trapped = smtp_server.trap(at=11, hold=4, accept=True)
    worker = make_worker(shared_redis_url)
    worker.start()
    with publishing_to(shared_redis_url):
        send_from_the_users_page(alice, users)
    assert trapped.wait(30), worker.log()
    worker.kill()
    assert len(smtp_server.messages) == 11
    assert Invitation.objects.filter(user__in=users, delivery="sent").count() == 10
    # The task died unacknowledged (Redis would hand it back only after its visibility timeout, an
    # hour) with the rest of the packet claimed. The worker comes back under its name.
    restarted = time.monotonic()
    worker.start()
    received = Received(users, smtp_server, sms_gateway)
    assert wait_for_delivery(received, restarted, "a worker killed mid-packet, restarted", capsys) == 1
    (twice,) = received.duplicated()
    assert Invitation.objects.get(pk=twice).address == "user10@acme.example", "only the message in flight"
    first_copy_opens_the_account(received)


def test_redis_stopped_during_sending_then_restarted(
    acme, alice, make_worker, private_redis, smtp_server, sms_gateway, settings, capsys
):
    # Several packets (the settings of delivery itself are the defaults): some wait in Redis when it
    # stops, and are gone when it comes back empty (no persistence).
    settings.INVITATIONS_PACKET_SIZE = 5
    users = created_users(acme, 20) + texting_users(acme, 2)
    trapped = smtp_server.trap(at=8, hold=5, accept=True)
    worker = make_worker(private_redis.url)
    worker.start()
    with publishing_to(private_redis.url):
        send_from_the_users_page(alice, users)
        assert trapped.wait(30), worker.log()
        private_redis.stop()
        stopped = time.monotonic()
        # The administrator sends more while Redis is down: the page answers at once, nothing is lost.
        late = created_users(acme, 3, first=100)
        elapsed = send_from_the_users_page(alice, late)
    print(f"request with the broker down: {elapsed:.2f}s")
    assert elapsed < 5, "the request does not hang on a dead broker"
    assert set(Invitation.objects.filter(user__in=late).values_list("delivery", flat=True)) == {"pending"}
    time.sleep(max(0.0, 3 - (time.monotonic() - stopped)))
    private_redis.start()
    restarted = time.monotonic()
    received = Received(users + late, smtp_server, sms_gateway)
    assert wait_for_delivery(received, restarted, "Redis stopped during sending, restarted", capsys) <= 1


def test_postgresql_restarted_during_a_packet(
    private_postgres, make_worker, shared_redis_url, smtp_server, sms_gateway, capsys
):
    acme = OrganizationFactory(slug="acme", name="Acme")
    alice = AdministratorFactory(organization=acme, email="alice@acme.example")
    users = created_users(acme, 24) + texting_users(acme, 2)
    # While the SMTP server holds its answer to the 11th message, the database restarts: the worker's
    # transaction (the row lock of that message) is cut, and it cannot record what the server took.
    trapped = smtp_server.trap(at=11, hold=4, accept=True)
    worker = make_worker(shared_redis_url, db_url=private_postgres.url())
    worker.start()
    with publishing_to(shared_redis_url):
        send_from_the_users_page(alice, users)
    assert trapped.wait(30), worker.log()
    private_postgres.restart()
    restarted = time.monotonic()
    connection.close()  # this process's connection was cut too
    received = Received(users, smtp_server, sms_gateway)
    assert wait_for_delivery(received, restarted, "PostgreSQL restarted during a packet", capsys) == 1
    first_copy_opens_the_account(received)


def test_beat_not_running_for_ten_minutes_a_worker_start_sweeps(
    acme, alice, make_worker, shared_redis_url, smtp_server, sms_gateway, capsys
):
    users = created_users(acme, 5) + texting_users(acme, 1)
    with publishing_to(shared_redis_url):
        send_from_the_users_page(alice, users)
    # No worker took the tasks and they were lost (a Redis restart without persistence), ten minutes
    # ago, and no beat has run since to sweep.
    redis.Redis.from_url(shared_redis_url).delete(settings.CELERY_TASK_DEFAULT_QUEUE)
    Invitation.objects.filter(user__in=users).update(enqueued_at=timezone.now() - timedelta(minutes=10))
    worker = make_worker(shared_redis_url)
    started = time.monotonic()
    worker.start(beat=False)
    received = Received(users, smtp_server, sms_gateway)
    assert wait_for_delivery(received, started, "beat down for ten minutes, a worker starts", capsys) == 0
    assert "beat: Starting" not in worker.log()
