"""Setting the type, the language or the preferred channel of many people at once, and putting it back
(accounts.services.users_set_type, users_set_language, users_set_channel, users_fields_restore)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from accounts.services import users_fields_restore, users_set_channel, users_set_language, users_set_type
from accounts.tests.factories import UserFactory, UserTypeFactory
from audit.models import Action, AuditEvent
from experquiz.authorization import NotAllowed
from experquiz.errors import InvalidFields
from invitations.models import Invitation
from invitations.tokens import hash_token

pytestmark = pytest.mark.django_db


def people(org, n, **fields):
    return [UserFactory(organization=org, first_name=f"P{i}", last_name="Bulk", **fields) for i in range(n)]


def test_set_type_changes_those_of_another_type_and_skips_those_who_have_it(alice):
    org = alice.organization
    trainer, student = (
        UserTypeFactory(organization=org, name="Trainer"),
        UserTypeFactory(organization=org, name="Student"),
    )
    already = people(org, 2, user_type=trainer)
    others = [*people(org, 2, user_type=student), *people(org, 1)]
    result = users_set_type(organization=org, user_ids=[u.pk for u in already + others], user_type=trainer, actor=alice)
    assert result.previous == {others[0].pk: student.pk, others[1].pk: student.pk, others[2].pk: None}
    assert result.skipped == [(u.pk, "already ‘Trainer’") for u in already]
    assert set(User.objects.filter(user_type=trainer).values_list("pk", flat=True)) == {u.pk for u in already + others}
    events = AuditEvent.objects.filter(action=Action.USER_UPDATED).order_by("target_user_id")
    assert [(e.target_user_id, e.actor_id, e.before, e.after) for e in events] == [
        (others[0].pk, alice.pk, {"user_type": "Student"}, {"user_type": "Trainer"}),
        (others[1].pk, alice.pk, {"user_type": "Student"}, {"user_type": "Trainer"}),
        (others[2].pk, alice.pk, {"user_type": ""}, {"user_type": "Trainer"}),
    ]


def test_set_language_skips_those_who_speak_it_already(alice):
    org = alice.organization
    french = people(org, 1, language="fr")
    english = people(org, 2, language="en")
    result = users_set_language(organization=org, user_ids=[u.pk for u in french + english], language="fr", actor=alice)
    assert set(result.previous) == {u.pk for u in english}
    assert result.skipped == [(french[0].pk, "already ‘French’")]
    assert not User.objects.filter(pk__in=[u.pk for u in english], language="en").exists()


def test_set_channel_skips_those_without_the_address_and_revokes_their_pending_links(alice):
    org = alice.organization
    with_mobile = UserFactory(organization=org, mobile="+33612345678", status="invited")
    without = UserFactory(organization=org, mobile="")
    on_sms = UserFactory(organization=org, mobile="+33612345679", preferred_channel="sms")
    link = Invitation.objects.create(
        organization=org,
        user=with_mobile,
        channel="email",
        address=with_mobile.email,
        token_hash=hash_token("t"),
        expires_at=timezone.now() + timedelta(days=3),
        created_by=alice,
    )
    result = users_set_channel(
        organization=org, user_ids=[with_mobile.pk, without.pk, on_sms.pk], channel="sms", actor=alice
    )
    assert result.previous == {with_mobile.pk: "email"}
    assert sorted(result.skipped) == sorted([(without.pk, "no mobile number"), (on_sms.pk, "already ‘SMS’")])
    with_mobile.refresh_from_db()
    link.refresh_from_db()
    assert with_mobile.preferred_channel == "sms"
    assert link.revoked_at is not None  # as when one person's channel is edited
    assert with_mobile.status_changes.filter(reason__contains="preferred channel changed").exists()


def test_each_write_is_one_statement_per_call_whatever_the_number_of_people(alice):
    """A bulk action calls the service once per chunk: its cost must not grow with the chunk."""
    org = alice.organization
    trainer = UserTypeFactory(organization=org, name="Trainer")
    small, big = people(org, 2), people(org, 40)
    counts = []
    for group in (small, big):
        with CaptureQueriesContext(connection) as queries:
            users_set_type(organization=org, user_ids=[u.pk for u in group], user_type=trainer, actor=alice)
        counts.append(len(queries))
        updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('UPDATE "accounts_user"')]
        assert len(updates) == 1, updates
    assert counts[0] == counts[1]


def test_a_restore_with_different_values_is_still_one_update(alice):
    org = alice.organization
    trainer, student = (
        UserTypeFactory(organization=org, name="Trainer"),
        UserTypeFactory(organization=org, name="Student"),
    )
    a, b, c = people(org, 3, user_type=trainer)
    with CaptureQueriesContext(connection) as queries:
        result = users_fields_restore(
            organization=org,
            field="user_type",
            previous={a.pk: student.pk, b.pk: None, c.pk: student.pk},
            current=trainer.pk,
            actor=alice,
        )
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('UPDATE "accounts_user"')]
    assert len(updates) == 1
    assert set(result.previous) == {a.pk, b.pk, c.pk}
    assert dict(User.objects.filter(pk__in=[a.pk, b.pk, c.pk]).values_list("pk", "user_type_id")) == {
        a.pk: student.pk,
        b.pk: None,
        c.pk: student.pk,
    }


def test_a_restore_skips_those_changed_since_and_what_cannot_be_put_back(alice):
    org = alice.organization
    changed_since = UserFactory(organization=org, language="en")  # set to fr, then back to en by someone
    kept = UserFactory(organization=org, language="fr")
    result = users_fields_restore(
        organization=org, field="language", previous={changed_since.pk: "en", kept.pk: "en"}, current="fr", actor=alice
    )
    assert result.previous == {kept.pk: "fr"}
    assert result.skipped == [(changed_since.pk, "language changed since")]

    lost_email = UserFactory(organization=org, email="", mobile="+33612345670", preferred_channel="sms")
    result = users_fields_restore(
        organization=org, field="preferred_channel", previous={lost_email.pk: "email"}, current="sms", actor=alice
    )
    assert result.skipped == [(lost_email.pk, "no email address")]

    trainer = UserTypeFactory(organization=org, name="Trainer")
    typed = UserFactory(organization=org, user_type=trainer)
    result = users_fields_restore(
        organization=org, field="user_type", previous={typed.pk: 10**9}, current=trainer.pk, actor=alice
    )
    assert result.skipped == [(typed.pk, "their previous type was deleted")]
    typed.refresh_from_db()
    assert typed.user_type == trainer


def test_only_people_in_the_actors_scope_are_changed(maggie, ines, otto, bob):
    with pytest.raises(NotAllowed):
        users_set_language(organization=maggie.organization, user_ids=[ines.pk, otto.pk], language="fr", actor=maggie)
    with pytest.raises(NotAllowed):
        users_set_language(organization=bob.organization, user_ids=[ines.pk], language="fr", actor=bob)
    assert not User.objects.filter(language="fr").exists()
    assert not AuditEvent.objects.filter(action=Action.USER_UPDATED).exists()
    users_set_language(organization=maggie.organization, user_ids=[ines.pk], language="fr", actor=maggie)
    ines.refresh_from_db()
    assert ines.language == "fr"


def test_bad_values_are_refused_naming_the_field(alice, bob, mallory):
    org = alice.organization
    with pytest.raises(InvalidFields) as refused:
        users_set_language(organization=org, user_ids=[bob.pk], language="xx", actor=alice)
    assert "language" in refused.value.errors
    with pytest.raises(InvalidFields):
        users_set_channel(organization=org, user_ids=[bob.pk], channel="fax", actor=alice)
    foreign = UserTypeFactory(organization=mallory.organization)
    with pytest.raises(InvalidFields):
        users_set_type(organization=org, user_ids=[bob.pk], user_type=foreign, actor=alice)


def test_reasons_are_in_the_language_of_the_work(alice, bob):
    from django.utils.translation import override

    trainer = UserTypeFactory(organization=alice.organization, name="Trainer")
    bob.user_type = trainer
    bob.save()
    with override("fr"):
        result = users_set_type(organization=alice.organization, user_ids=[bob.pk], user_type=trainer, actor=alice)
        assert result.skipped == [(bob.pk, "déjà « Trainer »")]
        result = users_set_channel(organization=alice.organization, user_ids=[bob.pk], channel="sms", actor=alice)
        assert result.skipped == [(bob.pk, "pas de numéro de mobile")]
