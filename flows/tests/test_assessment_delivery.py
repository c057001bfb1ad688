"""Assessment messages through real parts: the invitation made in this process, a Celery worker (with
beat) on Redis sending them to an SMTP server and an SMS gateway on loopback."""

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import AdministratorFactory, OrganizationFactory, UserFactory
from assessments.models import AssessmentSettings
from assessments.tests.factories import make_questionnaire
from experquiz.sms.gsm import SMS_LIMIT, septets
from flows.assessments import Selection, assessment_invite
from invitations.models import Invitation
from invitations.tests.realworld import body_text, publishing_to, wait_until
from invitations.tokens import hash_token

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ASSESSMENT_LINK = re.compile(r"https?://acme\.[^\s\"<>]+/a/([A-Za-z0-9_-]{43})/")


@pytest.fixture
def acme(real_db):
    return OrganizationFactory(slug="acme", name="Acme")


@pytest.fixture
def alice(acme):
    return AdministratorFactory(organization=acme, email="alice@acme.example")


def test_assessment_messages_reach_smtp_and_sms_through_a_real_worker_at_once_or_at_their_time(
    acme,
    alice,
    make_worker,
    shared_redis_url,
    smtp_server,
    sms_gateway,
    settings,
):
    settings.INVITATIONS_PACKET_SIZE = 2
    quiz = make_questionnaire(acme, title="Fire safety")
    ann = UserFactory(organization=acme, first_name="Ann", last_name="Abbot", email="ann@acme.example")
    zoe = UserFactory(organization=acme, first_name="Zoé", last_name="Zola", email="zoe@acme.example", language="fr")
    texter = UserFactory(
        organization=acme, last_name="Texter", email="", mobile="+33612345670", preferred_channel="sms"
    )
    worker = make_worker(shared_redis_url, extra_env={"INVITATIONS_SWEEP_INTERVAL": "1"})
    worker.start(beat=True)

    with publishing_to(shared_redis_url):
        assignment, summary = assessment_invite(
            actor=alice,
            questionnaire=quiz,
            selection=Selection(user_ids=(ann.pk, zoe.pk, texter.pk), addresses="cora@example.org"),
        )
    assert summary.packets == ["Ab–Co", "Te–Zo"]
    rows = Invitation.objects.filter(batch=assignment.batch)
    wait_until(lambda: set(rows.values_list("delivery", flat=True)) == {"sent"}, timeout=60, message="sending")
    wait_until(lambda: len(smtp_server.messages) == 3 and len(sms_gateway.posts) == 1, timeout=10)

    for row in rows.filter(channel="email"):
        (message,) = smtp_server.to(row.address)
        token = ASSESSMENT_LINK.search(body_text(message)).group(1)
        assert hash_token(token) == row.token_hash  # the link is the row's
        assert message.get_body(preferencelist=("html",)) is not None
    (french,) = smtp_server.to("zoe@acme.example")
    assert "vous invite" in french["Subject"] and "Fire safety" in french["Subject"]
    (sms,) = sms_gateway.to("+33612345670")
    assert septets(sms["body"]) <= SMS_LIMIT
    assert hash_token(ASSESSMENT_LINK.search(sms["body"]).group(1)) == rows.get(channel="sms").token_hash

    # With a delay before sending: nothing before its time, then beat's sweeper sends it.
    AssessmentSettings.objects.filter(organization=acme).update(send_minutes_before_opening=1)
    later = UserFactory(organization=acme, email="later@acme.example")
    with publishing_to(shared_redis_url):
        delayed, _summary = assessment_invite(
            actor=alice,
            questionnaire=quiz,
            selection=Selection(user_ids=(later.pk,)),
            opens_at=timezone.now() + timedelta(seconds=72),
        )
    assert delayed.send_at > timezone.now() + timedelta(seconds=8)
    time.sleep(max(0.0, (delayed.send_at - timezone.now()).total_seconds() - 2))
    assert smtp_server.to("later@acme.example") == []
    wait_until(lambda: smtp_server.to("later@acme.example"), timeout=20, message="the delayed message")
    # The worker records the message once the server's answer reaches it, a moment after the server has it.
    wait_until(lambda: Invitation.objects.get(batch=delayed.batch).sent_at, timeout=5, message="the record")
    sent_at = Invitation.objects.get(batch=delayed.batch).sent_at
    assert delayed.send_at <= sent_at <= delayed.send_at + timedelta(seconds=10)
