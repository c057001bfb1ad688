"""The whole path through real parts: a Celery worker on Redis, an SMTP server, an SMS gateway.

Each fault test counts what the receiving servers got: every invitation exactly once.
"""

import time
from urllib.parse import urlsplit

import pytest
from django.test import Client

from accounts.models import User
from accounts.tests.factories import AdministratorFactory, OrganizationFactory, UserFactory
from invitations.models import Invitation

from .helpers import LINK
from .realworld import body_text, publishing_to, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "violet-umbrella-42"


@pytest.fixture
def acme(real_db):
    return OrganizationFactory(slug="acme", name="Acme")


@pytest.fixture
def alice(acme):
    return AdministratorFactory(organization=acme, email="alice@acme.example")


def created_users(organization, count, **kwargs):
    return [
        UserFactory(organization=organization, email=f"user{n}@acme.example", status="created", **kwargs)
        for n in range(count)
    ]


def send_from_the_users_page(alice, users):
    """What the administrator does: POST the bulk "send invitations" action."""
    client = Client(HTTP_HOST="acme.localhost")
    client.force_login(alice)
    started = time.monotonic()
    response = client.post("/invitations/users/send/", {"users": [user.pk for user in users]})
    assert response.status_code == 302, response.content
    return time.monotonic() - started


def assert_each_sent_exactly_once(smtp_server, users):
    ids = set(Invitation.objects.filter(user__in=users).values_list("pk", flat=True))
    counts = smtp_server.invitation_counts()
    assert set(counts) == ids, "every invitation arrived"
    assert set(counts.values()) == {1}, f"nothing arrived twice: {counts.most_common(3)}"
    assert set(Invitation.objects.filter(pk__in=ids).values_list("delivery", flat=True)) == {"sent"}


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


def test_invitations_reach_smtp_and_sms_through_a_real_worker_and_the_links_work(
    acme, alice, make_worker, shared_redis_url, smtp_server, sms_gateway, settings
):
    settings.INVITATIONS_PACKET_SIZE = 2  # three packets for three emails and two SMS
    emails = created_users(acme, 2) + [
        UserFactory(organization=acme, email="zoe@acme.example", status="created", language="fr")
    ]
    texts = [
        UserFactory(organization=acme, email="", mobile=f"+3361234567{n}", preferred_channel="sms", status="created")
        for n in range(2)
    ]
    worker = make_worker(shared_redis_url)
    worker.start(beat=False)
    with publishing_to(shared_redis_url):
        send_from_the_users_page(alice, emails + texts)
    wait_until(lambda: len(smtp_server.messages) == 3 and len(sms_gateway.posts) == 2, timeout=30)

    assert_each_sent_exactly_once(smtp_server, emails)
    (french,) = smtp_server.to("zoe@acme.example")
    assert "invite" in french["Subject"] and french.get_body(preferencelist=("html",)) is not None
    assert {post["to"] for post in sms_gateway.posts} == {"+33612345670", "+33612345671"}
    assert all(len(post["body"]) <= 160 for post in sms_gateway.posts)

    email_link = LINK.search(body_text(smtp_server.to("user0@acme.example")[0])).group(0)
    follow_link_and_finish(email_link, emails[0])
    sms_link = LINK.search(sms_gateway.to("+33612345670")[0]["body"]).group(0)
    follow_link_and_finish(sms_link, texts[0])


def test_smtp_down_then_back_loses_nothing_and_sends_nothing_twice(
    acme, alice, make_worker, shared_redis_url, smtp_server
):
    users = created_users(acme, 5)
    smtp_server.stop()
    worker = make_worker(shared_redis_url)
    worker.start()
    with publishing_to(shared_redis_url):
        send_from_the_users_page(alice, users)
    wait_until(
        lambda: Invitation.objects.filter(user__in=users, attempts__gte=1).exclude(last_error="").count() == 5,
        message="the first attempt to fail",
    )
    smtp_server.start()
    wait_until(lambda: len(smtp_server.messages) >= 5, timeout=30, message="the retries to deliver")
    time.sleep(4)  # more than the sweeper's delay: a duplicate would show up now
    assert_each_sent_exactly_once(smtp_server, users)


def test_a_worker_killed_mid_packet_loses_nothing_and_sends_nothing_twice(
    acme, alice, make_worker, shared_redis_url, smtp_server
):
    users = created_users(acme, 30)
    # The worker will be killed while the SMTP server is reading the 11th message, before it answers.
    trapped = smtp_server.trap(at=11, hold=3)
    worker = make_worker(shared_redis_url)
    worker.start(beat=False)
    with publishing_to(shared_redis_url):
        send_from_the_users_page(alice, users)
    assert trapped.wait(30), worker.log()
    worker.kill()
    assert len(smtp_server.messages) == 10
    assert Invitation.objects.filter(user__in=users, delivery="sent").count() == 10
    # The task died unacknowledged: Redis would hand it back only after the visibility timeout. The
    # restarted worker's sweeper finds the rows still pending and queues them again.
    worker.start(beat=True)
    wait_until(lambda: len(smtp_server.messages) >= 30, timeout=40, message="the sweeper to deliver the rest")
    time.sleep(4)
    assert_each_sent_exactly_once(smtp_server, users)


def test_redis_down_when_the_administrator_sends_then_back_the_sweeper_delivers(
    acme, alice, make_worker, private_redis, smtp_server, settings
):
    settings.INVITATIONS_PACKET_SIZE = 1  # four packets: the request must not wait for each of them
    users = created_users(acme, 4)
    worker = make_worker(private_redis.url)
    worker.start()
    private_redis.stop()
    with publishing_to(private_redis.url):
        elapsed = send_from_the_users_page(alice, users)
    print(f"request with the broker down: {elapsed:.2f}s")
    assert elapsed < 5, "the request does not hang on a dead broker"
    assert set(User.objects.filter(pk__in=[user.pk for user in users]).values_list("status", flat=True)) == {"invited"}
    assert set(Invitation.objects.filter(user__in=users).values_list("delivery", flat=True)) == {"pending"}
    assert smtp_server.messages == []
    private_redis.start()  # empty: every queued task is gone, only the database remembers
    wait_until(lambda: len(smtp_server.messages) >= 4, timeout=60, message="the sweeper to deliver after Redis")
    time.sleep(4)
    assert_each_sent_exactly_once(smtp_server, users)


def test_two_copies_of_a_packet_running_at_once_send_each_message_once(acme, alice, smtp_server, settings):
    """What a redelivered task or a sweeper re-enqueue amounts to: the row locks share the work."""
    import threading

    from django.db import connection

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

    def run():
        try:
            outcomes.append(delivery.invitations_deliver(invitation_ids=ids))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(len(outcome.sent) for outcome in outcomes) == 40
    assert_each_sent_exactly_once(smtp_server, users)
