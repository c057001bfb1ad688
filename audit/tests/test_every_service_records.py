"""Every write service records its audit events, and exactly those: one table row per service.

A public function added to a services module fails `test_every_service_is_in_the_table` until it
gets a row here (what it records) or a line in NOT_AUDITED (why it records nothing of its own).
"""

import ast
import inspect
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

import accounts.services
import assessments.exports
import assessments.invited
import assessments.services
import audit.services
import flows.assessment_reminders
import flows.assessments
import flows.contact_import
import flows.contacts
import flows.imports
import flows.invitations
import flows.jobs
import flows.organization
import flows.people
import groups.services
import invitations.services.acceptance
import invitations.services.account
import invitations.services.delivery
import invitations.services.outbox
import invitations.services.resets
import invitations.services.revocation
import rights.services
from accounts.models import Contact, User
from accounts.services import (
    contact_create,
    contact_delete,
    contact_update,
    organization_create,
    user_change_status,
    user_create,
    user_language_choose,
    user_set_password,
    user_type_create,
    user_type_delete,
    user_type_rename,
    user_update,
    users_export_record,
    users_fields_restore,
    users_mark_invited,
    users_set_channel,
    users_set_language,
    users_set_type,
)
from accounts.tests.factories import ContactFactory, MembershipFactory, UserFactory, UserTypeFactory
from assessments import services as assessment_services
from assessments.models import Answer, Assignee, Assignment, Attempt
from assessments.services import ChoiceSpec, QuestionSpec
from assessments.tests.factories import correct_ids, make_questionnaire
from audit.models import Action, AuditEvent
from audit.services import audit_trail_export_record
from experquiz.tests.codebase import product_modules
from flows import importing
from flows.contacts import contact_convert, contacts_convert
from flows.imports import users_import
from flows.invitations import invitations_invite_addresses
from flows.people import user_create_with_groups, user_status_action, user_update_with_groups
from groups.services import (
    group_add_created_users,
    group_add_members,
    group_create,
    group_delete,
    group_remove_members,
    group_restore_members,
    group_update,
    memberships_set,
    user_place_in_groups,
)
from groups.tests.factories import RightsProfileFactory, grant, scope
from invitations.models import Invitation, InvitationBatch, InvitationSettings
from invitations.services.acceptance import invitation_accept, password_reset_complete
from invitations.services.account import (
    batch_retry_failed,
    invitation_resend,
    invitation_revoke,
    invitations_resend_to_group,
    invitations_revoke_for_user,
    invitations_send,
    invitations_send_reminders,
    user_activate_with_temporary_password,
)
from invitations.services.resets import password_reset_request
from invitations.services.revocation import account_links_revoke, account_links_revoke_for_users
from invitations.tokens import hash_token
from rights.names import Right
from rights.selectors import EVERYONE
from rights.services import profile_create, profile_delete, profile_update, user_rights_set, user_set_administrator

pytestmark = pytest.mark.django_db

# Every module of write services, on every floor (test_every_services_module_is_walked finds them).
SERVICE_MODULES = [
    audit.services,
    accounts.services,
    groups.services,
    rights.services,
    invitations.services.outbox,
    invitations.services.delivery,
    invitations.services.account,
    invitations.services.resets,
    invitations.services.revocation,
    invitations.services.acceptance,
    assessments.services,
    assessments.invited,
    flows.assessments,
    flows.assessment_reminders,
    assessments.exports,
    flows.contacts,
    flows.contact_import,
    flows.imports,
    flows.invitations,
    flows.jobs,
    flows.people,
    flows.organization,
]
# Modules that write in a transaction but hold no service of their own to audit, and why.
NOT_SERVICE_MODULES = {
    "accounts.admin_site": "the platform admin's login (a TOTP device's use), outside every organisation",
    "experquiz.naming": "the name rule: a savepoint around the save of the service that calls it, which records",
    "flows.tasks": "background jobs: they call the import and bulk services (which record) and keep their own progress",
    "flows.bulk": "runs a registered action's handler per chunk of users; the handlers call the services, which record",
    "experquiz.bulk_insert": "writes rows many at a time for the services that call it, which record",
}
PASSWORD = "a long and new password 42"

# Public functions of the services modules that record nothing of their own, and why.
NOT_AUDITED = {
    "audit.services.audit_event": "the recorder: builds the event a service records",
    "audit.services.audit_record": "the recorder: writes the event a service records",
    "audit.services.audit_record_many": "the recorder: writes the events a service records",
    "audit.services.short": "the recorder's helper: a value cut for the trail",
    "audit.services.changed": "the recorder's helper: what differs between before and after",
    "groups.services.new_user_groups_check": "a check before a creation; writes nothing",
    "invitations.services.outbox.chunks": "a helper splitting a list",
    "flows.invitations.split_addresses": "a helper splitting pasted text",
    "flows.organization.organization_settings_of": "reads: the settings page's current values",
    "flows.contact_import.contacts_file_read": "reads: the rows of an uploaded contacts file",
    "flows.contact_import.contacts_import_check": "reads: each row of a contacts file as it would be imported",
    "flows.invitations.invitations_paste_preview": "reads: what a paste would do (confirmation page)",
    "invitations.services.acceptance.invitation_problem": "reads: why a link cannot be used",
    "invitations.services.outbox.invitations_enqueue": "queues delivery tasks of invitations already recorded as sent",
    "invitations.services.delivery.invitations_release_claims": "delivery bookkeeping when a worker starts",
    "invitations.services.outbox.invitations_sweep": "re-queues lost delivery tasks; changes nothing a person sees",
    "invitations.services.delivery.invitations_deliver": "delivers what was recorded when it was sent or issued",
    "invitations.services.revocation.invitations_revoke_on_status_change": "a side effect of the status change",
    "accounts.services.account_links_outdated_for": "sends the signal; its receiver records each revoked link",
    "accounts.services.link_fields_changes": "reads: which login IDs or channel changed",
    "accounts.services.users_history_note": "the history rows beside the caller's own events",
    "accounts.services.import_files_purge": "system clean-up of files never imported (no actor); the job page says why",
    "invitations.services.resets.password_reset_ask": "queues the look-up; password_reset_request records",
    "invitations.services.outbox.invitation_row": "builds an unsaved row; the service that saves it records",
    "invitations.services.revocation.revoke_outstanding": "the update behind the revoking services, which record",
    "assessments.services.answer_save": (
        "the answer row is its own record (with its time); the attempt's start and submission are audited, and "
        "this is the hottest write (every click of everyone taking a test)"
    ),
    "assessments.services.recorded_actor": "a helper: who the trail names for an actor",
    "assessments.invited.assignee_mark_opened": (
        "the time on the person's place is its own record (bookkeeping for the results), like an answer"
    ),
    "flows.jobs.import_job_create": "keeps the file and checks it, writing no user; users_import records",
    "flows.jobs.import_job_confirm": "starts the import, which records (users_import)",
    "flows.jobs.bulk_job_start": "queues the bulk action, whose services record each change",
    "flows.assessments.assessment_invitation_preview": "reads: what an invitation would do, writing nothing",
    "flows.jobs.group_invitations_start": "records the batch and queues the worker, whose sending records",
}


@dataclass
class Expect:
    """One event a service must write. `target` is the object acted on (its type and id are checked)."""

    action: str
    actor: object = None
    user: object = None
    target: object = None
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    label: str | None = None
    organization: object = None  # Acme unless said otherwise

    def key(self):
        return (self.action, _pk(self.user) or 0, _target_key(self.target)[1] or 0)


def _pk(value):
    return getattr(value, "pk", value)


def _target_key(target):
    if target is None:
        return ("", None)
    if isinstance(target, tuple):  # (type, id) of an object since deleted
        return target
    return (target._meta.model_name, target.pk)


def _event_key(event):
    return (event.action, event.target_user_id or 0, event.target_id or 0)


@pytest.fixture
def w(acme, alice, bob, lyon, paris, ines, otto):
    """Acme with Alice (administrator), Bob (active, no group), Ines (Lyon), Otto (Paris), a created
    and an invited person in Lyon with a pending account invitation, and a contact."""
    created = UserFactory(organization=acme, first_name="Cecile", last_name="Created", status=User.Status.CREATED)
    invited = UserFactory(
        organization=acme,
        first_name="Ivy",
        last_name="Invited",
        email="ivy@acme.example",
        status=User.Status.INVITED,
    )
    MembershipFactory(group=lyon, user=created)
    MembershipFactory(group=lyon, user=invited)
    invitation = Invitation.objects.create(
        organization=acme,
        user=invited,
        channel="email",
        address=invited.email,
        token_hash=hash_token("ivy-token"),
        expires_at=timezone.now() + timedelta(days=7),
        delivery=Invitation.Delivery.SENT,
        created_by=alice,
    )
    contact = ContactFactory(organization=acme, first_name="Carla", last_name="Contact", email="carla@acme.example")
    return SimpleNamespace(
        acme=acme,
        alice=alice,
        bob=bob,
        lyon=lyon,
        paris=paris,
        ines=ines,
        otto=otto,
        created=created,
        invited=invited,
        invitation=invitation,
        contact=contact,
    )


def _new_invitation(user):
    return Invitation.objects.filter(user=user).order_by("-pk").first()


# accounts.services ---------------------------------------------------------------------------------


def case_organization_create(w):
    organization = organization_create(
        name="Initech", slug="initech", admin_email="Boss@Initech.example", admin_password=PASSWORD
    )
    boss = User.objects.get(organization=organization)
    return [
        Expect(
            Action.ORGANIZATION_CREATED,
            organization=organization,
            target=organization,
            after={"name": "Initech", "slug": "initech"},
        ),
        Expect(
            Action.USER_CREATED,
            organization=organization,
            user=boss,
            target=boss,
            after={
                "email": "boss@initech.example",
                "preferred_channel": "email",
                "language": "en",
                "status": "active",
                "administrator": True,
            },
        ),
    ]


def case_user_create(w):
    user = user_create(
        organization=w.acme, actor=w.alice, email="Nina@Acme.example", first_name="Nina", last_name="New"
    )
    return [
        Expect(
            Action.USER_CREATED,
            actor=w.alice,
            user=user,
            target=user,
            after={
                "first_name": "Nina",
                "last_name": "New",
                "email": "nina@acme.example",
                "preferred_channel": "email",
                "language": "en",
                "status": "created",
            },
        )
    ]


def case_user_create_with_groups(w):
    user = user_create_with_groups(
        organization=w.acme,
        actor=w.alice,
        email="Nina@Acme.example",
        first_name="Nina",
        last_name="New",
        groups=[w.lyon],
    )
    return [
        Expect(
            Action.USER_CREATED,
            actor=w.alice,
            user=user,
            target=user,
            after={
                "first_name": "Nina",
                "last_name": "New",
                "email": "nina@acme.example",
                "preferred_channel": "email",
                "language": "en",
                "status": "created",
            },
        ),
        Expect(Action.GROUP_MEMBER_ADDED, actor=w.alice, user=user, target=w.lyon),
    ]


def case_user_update(w):
    trainee = UserTypeFactory(organization=w.acme, name="Trainee")
    user_update(
        user=w.bob,
        actor=w.alice,
        first_name="Robert",
        last_name="Plain",
        email="bob@acme.example",
        mobile="06 12 34 56 78",
        preferred_channel="email",
        language="en",
        user_type=trainee,
    )
    return [
        Expect(
            Action.USER_UPDATED,
            actor=w.alice,
            user=w.bob,
            target=w.bob,
            before={"first_name": "Bob", "mobile": "", "user_type": ""},
            after={"first_name": "Robert", "mobile": "+33612345678", "user_type": "Trainee"},
        )
    ]


def case_user_update_with_groups(w):
    trainee = UserTypeFactory(organization=w.acme, name="Trainee")
    user_update_with_groups(
        user=w.bob,
        actor=w.alice,
        first_name="Robert",
        last_name="Plain",
        email="bob@acme.example",
        mobile="06 12 34 56 78",
        preferred_channel="email",
        language="en",
        user_type=trainee,
        groups=[w.lyon],
        manageable_groups=[w.lyon, w.paris],
    )
    return [
        Expect(
            Action.USER_UPDATED,
            actor=w.alice,
            user=w.bob,
            target=w.bob,
            before={"first_name": "Bob", "mobile": "", "user_type": ""},
            after={"first_name": "Robert", "mobile": "+33612345678", "user_type": "Trainee"},
        ),
        Expect(Action.GROUP_MEMBER_ADDED, actor=w.alice, user=w.bob, target=w.lyon),
    ]


def case_users_set_type(w):
    trainee = UserTypeFactory(organization=w.acme, name="Trainee")
    users_set_type(organization=w.acme, user_ids=[w.bob.pk], user_type=trainee, actor=w.alice)
    return [
        Expect(
            Action.USER_UPDATED,
            actor=w.alice,
            user=w.bob,
            target=("user", w.bob.pk),
            before={"user_type": ""},
            after={"user_type": "Trainee"},
        )
    ]


def case_users_set_language(w):
    users_set_language(organization=w.acme, user_ids=[w.bob.pk, w.ines.pk], language="fr", actor=w.alice)
    return [
        Expect(
            Action.USER_UPDATED,
            actor=w.alice,
            user=person,
            target=("user", person.pk),
            before={"language": "en"},
            after={"language": "fr"},
        )
        for person in (w.bob, w.ines)
    ]


def case_users_set_channel(w):
    User.objects.filter(pk=w.invited.pk).update(mobile="+33612345678")
    users_set_channel(organization=w.acme, user_ids=[w.invited.pk, w.bob.pk], channel="sms", actor=w.alice)
    # Bob has no mobile number: skipped. Ivy's pending invitation went by email: revoked.
    return [
        Expect(
            Action.USER_UPDATED,
            actor=w.alice,
            user=w.invited,
            target=("user", w.invited.pk),
            before={"preferred_channel": "email"},
            after={"preferred_channel": "sms"},
        ),
        Expect(
            Action.INVITATION_REVOKED,
            actor=w.alice,
            user=w.invited,
            target=w.invitation,
            after={"reason": "preferred channel changed"},
        ),
    ]


def case_users_fields_restore(w):
    User.objects.filter(pk=w.ines.pk).update(language="fr")
    users_fields_restore(
        organization=w.acme, field="language", previous={w.bob.pk: "fr", w.ines.pk: "en"}, current="fr", actor=w.alice
    )
    # Bob is not in the language the bulk change set (changed since): left as he is.
    return [
        Expect(
            Action.USER_UPDATED,
            actor=w.alice,
            user=w.ines,
            target=("user", w.ines.pk),
            before={"language": "fr"},
            after={"language": "en"},
        )
    ]


def case_bulk_undo_start(w):
    from accounts.models import BulkChange, BulkJob
    from flows.jobs import bulk_undo_start

    job = BulkJob.objects.create(
        organization=w.acme, created_by=w.alice, action="set_language", params={"value": "fr"}, state="done"
    )
    BulkChange.objects.create(organization=w.acme, job=job, user=w.bob, before="en")
    User.objects.filter(pk=w.bob.pk).update(language="fr")
    bulk_undo_start(job=job, actor=w.alice)
    return [
        Expect(
            Action.BULK_UNDONE,
            actor=w.alice,
            label="Set the language to ‘French’",
            after={"action": "set_language", "people": 1},
        ),
        Expect(
            Action.USER_UPDATED,
            actor=w.alice,
            user=w.bob,
            target=("user", w.bob.pk),
            before={"language": "fr"},
            after={"language": "en"},
        ),
    ]


def case_user_change_status(w):
    user_change_status(user=w.bob, to="inactive", actor=w.alice, reason="Left the company")
    return case_user_change_status_events(w)


def case_user_change_status_events(w):
    return [
        Expect(
            Action.USER_STATUS_CHANGED,
            actor=w.alice,
            user=w.bob,
            target=w.bob,
            before={"status": "active"},
            after={"status": "inactive", "reason": "Left the company"},
        )
    ]


def case_user_status_action(w):
    user_status_action(user=w.bob, to="inactive", actor=w.alice, reason="Left the company")
    return case_user_change_status_events(w)


def case_user_status_action_with_a_temporary_password(w):
    invitation = user_status_action(user=w.created, to="active", actor=w.alice)
    return [
        Expect(
            Action.USER_STATUS_CHANGED,
            actor=w.alice,
            user=w.created,
            target=w.created,
            before={"status": "created"},
            after={"status": "active", "reason": "Activated with a temporary password"},
        ),
        Expect(Action.TEMPORARY_PASSWORD_ISSUED, actor=w.alice, user=w.created, target=invitation),
    ]


def case_users_mark_invited(w):
    users_mark_invited(organization=w.acme, user_ids=[w.created.pk, w.invited.pk, w.bob.pk], actor=w.alice, reason="r")
    # Only a real change is a status change: the invited person stays invited, Bob is active.
    return [
        Expect(
            Action.USER_STATUS_CHANGED,
            actor=w.alice,
            user=w.created,
            target=("user", w.created.pk),
            before={"status": "created"},
            after={"status": "invited", "reason": "r"},
        )
    ]


def case_user_set_administrator(w):
    user_set_administrator(user=w.bob, is_administrator=True, actor=w.alice)
    return [
        Expect(
            Action.RIGHTS_CHANGED,
            actor=w.alice,
            user=w.bob,
            target=w.bob,
            before={"administrator": False},
            after={"administrator": True},
        )
    ]


def case_user_set_password(w):
    user_set_password(user=w.bob, password=PASSWORD, actor=w.bob)
    return [Expect(Action.USER_PASSWORD_CHANGED, actor=w.bob, user=w.bob, target=w.bob)]


def case_user_language_choose(w):
    user_language_choose(user=w.bob, language="fr", actor=w.bob)
    return [
        Expect(
            Action.USER_UPDATED,
            actor=w.bob,
            user=w.bob,
            target=w.bob,
            before={"language": "en"},
            after={"language": "fr"},
        )
    ]


def case_contacts_import(w):
    (contact,) = flows.contact_import.contacts_import(
        organization=w.acme, actor=w.alice, rows=[{"first_name": "Cand", "email": "cand@example.com", "language": "fr"}]
    )
    return [
        Expect(
            Action.CONTACT_CREATED,
            actor=w.alice,
            target=contact,
            after={"first_name": "Cand", "email": "cand@example.com", "language": "fr"},
            label="Cand",
        )
    ]


def case_contact_create(w):
    contact = contact_create(organization=w.acme, actor=w.alice, email="Cand@Example.com", first_name="Cand")
    return [
        Expect(
            Action.CONTACT_CREATED,
            actor=w.alice,
            target=contact,
            after={"first_name": "Cand", "email": "cand@example.com", "language": "en"},
            label="Cand",
        )
    ]


def case_contact_update(w):
    contact_update(
        contact=w.contact,
        actor=w.alice,
        first_name="Carla",
        last_name="Contact",
        email="carla@acme.example",
        mobile="",
        language="fr",
        notes="Met at the fair",
    )
    return [
        Expect(
            Action.CONTACT_UPDATED,
            actor=w.alice,
            target=w.contact,
            before={"language": "en", "notes": ""},
            after={"language": "fr", "notes": "Met at the fair"},
        )
    ]


def case_contact_delete(w):
    pk = w.contact.pk
    contact_delete(contact=w.contact, actor=w.alice)
    return [
        Expect(
            Action.CONTACT_DELETED,
            actor=w.alice,
            target=("contact", pk),
            before={"first_name": "Carla", "last_name": "Contact", "email": "carla@acme.example", "language": "en"},
            label="Carla Contact",
        )
    ]


def _converted_user_created(w, user, status="created"):
    return Expect(
        Action.USER_CREATED,
        actor=w.alice,
        user=user,
        target=user,
        after={
            "first_name": "Carla",
            "last_name": "Contact",
            "email": "carla@acme.example",
            "preferred_channel": "email",
            "language": "en",
            "status": status,
        },
    )


def case_contact_convert(w):
    user = contact_convert(contact=w.contact, to="created", actor=w.alice)
    return [
        _converted_user_created(w, user),
        Expect(
            Action.CONTACT_CONVERTED,
            actor=w.alice,
            user=user,
            target=w.contact,
            after={"user": "Carla Contact", "status": "created"},
        ),
    ]


def case_contacts_convert(w):
    [(_contact, user)], refused = contacts_convert(contacts=[w.contact], to="invited", actor=w.alice)
    assert not refused
    return [
        _converted_user_created(w, user),
        Expect(
            Action.USER_STATUS_CHANGED,
            actor=w.alice,
            user=user,
            target=("user", user.pk),
            before={"status": "created"},
            after={"status": "invited", "reason": "Invitation sent"},
        ),
        Expect(
            Action.INVITATION_SENT,
            actor=w.alice,
            user=user,
            target=_new_invitation(user),
            after={"batch": "Invitations to converted contacts"},
        ),
        Expect(
            Action.CONTACT_CONVERTED,
            actor=w.alice,
            user=user,
            target=w.contact,
            after={"user": "Carla Contact", "status": "invited"},
        ),
    ]


def case_user_type_create(w):
    user_type = user_type_create(organization=w.acme, name=" Intern ", actor=w.alice)
    return [Expect(Action.USER_TYPE_CREATED, actor=w.alice, target=user_type, after={"name": "Intern"})]


def case_user_type_rename(w):
    user_type = UserTypeFactory(organization=w.acme, name="Intern")
    user_type_rename(user_type=user_type, name="Apprentice", actor=w.alice)
    return [
        Expect(
            Action.USER_TYPE_RENAMED,
            actor=w.alice,
            target=user_type,
            before={"name": "Intern"},
            after={"name": "Apprentice"},
        )
    ]


def case_user_type_delete(w):
    user_type = UserTypeFactory(organization=w.acme, name="Intern")
    pk = user_type.pk
    user_type_delete(user_type=user_type, actor=w.alice)
    return [Expect(Action.USER_TYPE_DELETED, actor=w.alice, target=("usertype", pk), before={"name": "Intern"})]


def case_users_import(w):
    header = ["first_name", "last_name", "email", "groups"]
    rows = [["Nora", "New", "nora@acme.example", "Lyon"], ["Robert", "Plain", "bob@acme.example", "Lyon"]]
    check = importing.check_rows(organization=w.acme, actor=w.alice, header=header, rows=rows)
    users_import(organization=w.acme, actor=w.alice, check=check, invite=True, source="people.csv")
    nora = User.objects.get(organization=w.acme, email="nora@acme.example")
    return [
        Expect(
            Action.USER_CREATED,
            actor=w.alice,
            user=nora,
            target=nora,
            after={
                "first_name": "Nora",
                "last_name": "New",
                "email": "nora@acme.example",
                "preferred_channel": "email",
                "language": "en",
                "status": "created",
            },
        ),
        Expect(
            Action.USER_UPDATED,
            actor=w.alice,
            user=w.bob,
            target=w.bob,
            before={"first_name": "Bob"},
            after={"first_name": "Robert"},
        ),
        Expect(Action.GROUP_MEMBER_ADDED, actor=w.alice, user=nora, target=w.lyon),
        Expect(Action.GROUP_MEMBER_ADDED, actor=w.alice, user=w.bob, target=w.lyon),
        # --invite: the new person is invited (Bob is active already).
        Expect(
            Action.USER_STATUS_CHANGED,
            actor=w.alice,
            user=nora,
            target=("user", nora.pk),
            before={"status": "created"},
            after={"status": "invited", "reason": "Invitation sent"},
        ),
        Expect(
            Action.INVITATION_SENT,
            actor=w.alice,
            user=nora,
            target=_new_invitation(nora),
            after={"batch": "Invitations after an import"},
        ),
        Expect(
            Action.IMPORT_APPLIED,
            actor=w.alice,
            after={"created": 1, "updated": 1, "invited": 1},
            label="people.csv",
        ),
    ]


def case_users_export_record(w):
    users_export_record(organization=w.acme, actor=w.alice, fmt="csv", filters={"status": "active"}, rows=3)
    return [
        Expect(
            Action.EXPORT_DOWNLOADED,
            actor=w.alice,
            after={"list": "users", "format": "csv", "filters": "status: active", "rows": 3},
            label="People list",
        )
    ]


def case_organization_settings_update(w):
    from flows.organization import organization_settings_update

    organization_settings_update(
        organization=w.acme,
        actor=w.alice,
        language="fr",
        phone_region="FR",
        invitation_lifetime_days=14,
        invitation_reminder_days=0,
        send_minutes_before_opening=30,
        default_window_hours=24,
        assessment_reminder_hours=0,
    )
    return [
        Expect(
            Action.ORGANIZATION_SETTINGS_CHANGED,
            actor=w.alice,
            target=w.acme,
            before={"language": "en", "send_minutes_before_opening": 0},
            after={"language": "fr", "send_minutes_before_opening": 30},
        )
    ]


def case_results_export_record(w):
    from assessments.exports import results_export_record

    quiz = make_questionnaire(w.acme, title="Fire drill")
    results_export_record(questionnaire=quiz, actor=w.alice, fmt="xlsx", filters={"state": "submitted"}, rows=4)
    return [
        Expect(
            Action.EXPORT_DOWNLOADED,
            actor=w.alice,
            target=quiz,
            after={"list": "results", "format": "xlsx", "filters": "state: submitted", "rows": 4},
            label="Results of “Fire drill”",
        )
    ]


# audit.services ------------------------------------------------------------------------------------


def case_audit_trail_export_record(w):
    audit_trail_export_record(organization=w.acme, actor=w.alice, filters={"action": "user.created"}, rows=7)
    return [
        Expect(
            Action.EXPORT_DOWNLOADED,
            actor=w.alice,
            after={"list": "audit", "format": "csv", "filters": "action: user.created", "rows": 7},
            label="Audit trail",
        )
    ]


# groups.services -----------------------------------------------------------------------------------


def case_group_create(w):
    group = group_create(organization=w.acme, actor=w.alice, name=" Nice ", description="South")
    return [Expect(Action.GROUP_CREATED, actor=w.alice, target=group, after={"name": "Nice", "description": "South"})]


def case_group_update(w):
    group_update(group=w.lyon, actor=w.alice, name="Lyon Part-Dieu", description="")
    return [
        Expect(
            Action.GROUP_UPDATED,
            actor=w.alice,
            target=w.lyon,
            before={"name": "Lyon"},
            after={"name": "Lyon Part-Dieu"},
        )
    ]


def case_group_delete(w):
    pk = w.paris.pk
    group_delete(group=w.paris, actor=w.alice)
    return [Expect(Action.GROUP_DELETED, actor=w.alice, target=("usergroup", pk), before={"name": "Paris"})]


def case_group_add_members(w):
    group_add_members(group=w.lyon, users=[w.bob, w.ines], actor=w.alice)  # Ines is a member already
    return [Expect(Action.GROUP_MEMBER_ADDED, actor=w.alice, user=w.bob, target=w.lyon)]


def case_group_add_created_users(w):
    new = UserFactory(organization=w.acme, created_by=w.alice)
    group_add_created_users(group=w.paris, users=[new], actor=w.alice)
    return [Expect(Action.GROUP_MEMBER_ADDED, actor=w.alice, user=new, target=w.paris)]


def case_group_remove_members(w):
    group_remove_members(group=w.lyon, users=[w.ines, w.bob], actor=w.alice)  # Bob is not a member
    return [Expect(Action.GROUP_MEMBER_REMOVED, actor=w.alice, user=w.ines, target=w.lyon)]


def case_group_restore_members(w):
    from datetime import UTC, datetime

    added_at = datetime(2024, 1, 2, tzinfo=UTC)
    group_restore_members(
        group=w.lyon, memberships=[(w.bob.pk, added_at, w.alice.pk), (w.ines.pk, None, None)], actor=w.alice
    )
    # Ines is a member already: left as she is.
    return [Expect(Action.GROUP_MEMBER_ADDED, actor=w.alice, user=w.bob, target=w.lyon)]


def case_memberships_set(w):
    memberships_set(actor=w.alice, users=[w.ines, w.bob], groups=[w.lyon, w.paris], pairs=[(w.bob.pk, w.paris.pk)])
    return [
        Expect(Action.GROUP_MEMBER_REMOVED, actor=w.alice, user=w.ines, target=w.lyon),
        Expect(Action.GROUP_MEMBER_ADDED, actor=w.alice, user=w.bob, target=w.paris),
    ]


def case_user_place_in_groups(w):
    new = UserFactory(organization=w.acme, created_by=w.alice)
    user_place_in_groups(user=new, groups=[w.lyon, w.paris], actor=w.alice)
    return [
        Expect(Action.GROUP_MEMBER_ADDED, actor=w.alice, user=new, target=w.lyon),
        Expect(Action.GROUP_MEMBER_ADDED, actor=w.alice, user=new, target=w.paris),
    ]


def case_user_rights_set(w):
    regional = RightsProfileFactory(organization=w.acme, name="Regional")
    grant(w.bob, Right.INVITE, w.paris)
    user_rights_set(
        user=w.bob,
        actor=w.alice,
        is_administrator=False,
        profiles=[regional],
        grants={Right.MANAGE_USERS: scope(w.lyon, w.paris), Right.INVITE: scope(w.paris)},
    )
    return [
        Expect(
            Action.RIGHTS_CHANGED,
            actor=w.alice,
            user=w.bob,
            target=w.bob,
            before={"profiles": ""},
            after={"manage_users": "Lyon, Paris", "profiles": "Regional"},
        )
    ]


def case_profile_create(w):
    profile = profile_create(organization=w.acme, actor=w.alice, name="Auditors", grants={Right.VIEW_RESULTS: EVERYONE})
    return [
        Expect(Action.PROFILE_CREATED, actor=w.alice, target=profile, after={"name": "Auditors", "view_results": "*"})
    ]


def case_profile_update(w):
    profile = RightsProfileFactory(organization=w.acme, name="Auditors")
    grant(profile, Right.VIEW_RESULTS, everyone=True)
    profile_update(
        profile=profile,
        actor=w.alice,
        name="Auditors",
        description="Lyon only",
        grants={Right.VIEW_RESULTS: scope(w.lyon)},
    )
    return [
        Expect(
            Action.PROFILE_UPDATED,
            actor=w.alice,
            target=profile,
            before={"description": "", "view_results": "*"},
            after={"description": "Lyon only", "view_results": "Lyon"},
        )
    ]


def case_profile_delete(w):
    profile = RightsProfileFactory(organization=w.acme, name="Auditors")
    grant(profile, Right.INVITE, w.lyon)
    pk = profile.pk
    profile_delete(profile=profile, actor=w.alice)
    return [
        Expect(
            Action.PROFILE_DELETED,
            actor=w.alice,
            target=("rightsprofile", pk),
            before={"name": "Auditors", "invite": "Lyon"},
        )
    ]


# invitations.services.* ----------------------------------------------------------------------------


def case_invitations_send(w):
    people = User.objects.filter(pk__in=[w.created.pk, w.invited.pk, w.bob.pk])
    invitations_send(organization=w.acme, users=people, actor=w.alice, label="Spring intake")
    return [
        Expect(
            Action.USER_STATUS_CHANGED,
            actor=w.alice,
            user=w.created,
            target=("user", w.created.pk),
            before={"status": "created"},
            after={"status": "invited", "reason": "Invitation sent"},
        ),
        Expect(
            Action.INVITATION_SENT,
            actor=w.alice,
            user=w.created,
            target=_new_invitation(w.created),
            after={"batch": "Spring intake"},
        ),
        Expect(
            Action.INVITATION_RESENT,
            actor=w.alice,
            user=w.invited,
            target=_new_invitation(w.invited),
            after={"batch": "Spring intake"},
        ),
    ]


def case_invitation_resend(w):
    invitation_resend(invitation=w.invitation, actor=w.alice)
    batch = str(InvitationBatch.objects.get())
    return [
        Expect(
            Action.INVITATION_RESENT,
            actor=w.alice,
            user=w.invited,
            target=_new_invitation(w.invited),
            after={"batch": batch},
        )
    ]


def case_invitation_resend_of_a_temporary_password(w):
    failed = Invitation.objects.create(
        organization=w.acme,
        kind=Invitation.Kind.TEMPORARY_PASSWORD,
        user=w.bob,
        channel="email",
        address=w.bob.email,
        delivery=Invitation.Delivery.FAILED,
    )
    User.objects.filter(pk=w.bob.pk).update(must_change_password=True)
    invitation_resend(invitation=failed, actor=w.alice)
    return [
        Expect(
            Action.TEMPORARY_PASSWORD_ISSUED,
            actor=w.alice,
            user=w.bob,
            target=_new_invitation(w.bob),
            after={"again": True},
        )
    ]


def case_invitation_revoke(w):
    invitation_revoke(invitation=w.invitation, actor=w.alice)
    return [Expect(Action.INVITATION_REVOKED, actor=w.alice, user=w.invited, target=w.invitation)]


def case_invitations_revoke_for_user(w):
    invitations_revoke_for_user(user=w.invited, actor=w.alice)
    return [Expect(Action.INVITATION_REVOKED, actor=w.alice, user=w.invited, target=w.invited, after={"count": 1})]


def case_account_links_revoke(w):
    account_links_revoke(user=w.invited, reason="email address changed", actor=w.alice)
    return [
        Expect(
            Action.INVITATION_REVOKED,
            actor=w.alice,
            user=w.invited,
            target=w.invitation,
            after={"reason": "email address changed"},
        )
    ]


def case_account_links_revoke_for_users(w):
    account_links_revoke_for_users(user_ids=[w.invited.pk], reason="rights changed", actor=w.alice)
    return [
        Expect(
            Action.INVITATION_REVOKED,
            actor=w.alice,
            user=w.invited,
            target=w.invitation,
            after={"reason": "rights changed"},
        )
    ]


def case_invitations_resend_to_group(w):
    invitations_resend_to_group(organization=w.acme, group=w.lyon, actor=w.alice)
    return [
        Expect(
            Action.USER_STATUS_CHANGED,
            actor=w.alice,
            user=w.created,
            target=("user", w.created.pk),
            before={"status": "created"},
            after={"status": "invited", "reason": "Invitation sent"},
        ),
        Expect(
            Action.INVITATION_SENT,
            actor=w.alice,
            user=w.created,
            target=_new_invitation(w.created),
            after={"batch": "Invitations to group Lyon"},
        ),
        Expect(
            Action.INVITATION_RESENT,
            actor=w.alice,
            user=w.invited,
            target=_new_invitation(w.invited),
            after={"batch": "Invitations to group Lyon"},
        ),
    ]


def case_batch_retry_failed(w):
    batch = InvitationBatch.objects.create(organization=w.acme, created_by=w.alice, label="Spring intake")
    Invitation.objects.filter(pk=w.invitation.pk).update(batch=batch, delivery=Invitation.Delivery.FAILED)
    batch_retry_failed(batch=batch, actor=w.alice)
    return [Expect(Action.INVITATIONS_RETRIED, actor=w.alice, target=batch, after={"count": 1})]


def case_invitations_invite_addresses(w):
    invitations_invite_addresses(
        organization=w.acme, actor=w.alice, text="new@acme.example; bob@acme.example", group=w.lyon
    )
    new = User.objects.get(organization=w.acme, email="new@acme.example")
    return [
        Expect(
            Action.USER_CREATED,
            actor=w.alice,
            user=new,
            target=new,
            after={"email": "new@acme.example", "preferred_channel": "email", "language": "en", "status": "created"},
        ),
        Expect(Action.GROUP_MEMBER_ADDED, actor=w.alice, user=new, target=w.lyon),
        Expect(
            Action.USER_STATUS_CHANGED,
            actor=w.alice,
            user=new,
            target=("user", new.pk),
            before={"status": "created"},
            after={"status": "invited", "reason": "Invitation sent"},
        ),
        Expect(
            Action.INVITATION_SENT,
            actor=w.alice,
            user=new,
            target=_new_invitation(new),
            after={"batch": "Invitations to 1 pasted addresses"},
        ),
    ]


def case_user_activate_with_temporary_password(w):
    invitation = user_activate_with_temporary_password(user=w.created, actor=w.alice)
    return [
        Expect(
            Action.USER_STATUS_CHANGED,
            actor=w.alice,
            user=w.created,
            target=w.created,
            before={"status": "created"},
            after={"status": "active", "reason": "Activated with a temporary password"},
        ),
        Expect(Action.TEMPORARY_PASSWORD_ISSUED, actor=w.alice, user=w.created, target=invitation),
    ]


def case_password_reset_request(w):
    invitation = password_reset_request(organization=w.acme, user=w.bob)
    return [Expect(Action.PASSWORD_RESET_REQUESTED, actor=None, user=w.bob, target=invitation)]


def case_invitation_accept(w):
    invitation_accept(invitation=w.invitation, first_name="Ivy", last_name="Vited", password=PASSWORD)
    return [
        Expect(Action.USER_PASSWORD_CHANGED, actor=w.invited, user=w.invited, target=w.invited),
        Expect(
            Action.INVITATION_ACCEPTED,
            actor=w.invited,
            user=w.invited,
            target=w.invitation,
            after={"first_name": "Ivy", "last_name": "Vited"},
        ),
        Expect(
            Action.USER_STATUS_CHANGED,
            actor=w.invited,
            user=w.invited,
            target=w.invited,
            before={"status": "invited"},
            after={"status": "active", "reason": "Accepted the invitation"},
        ),
    ]


def case_password_reset_complete(w):
    reset = Invitation.objects.create(
        organization=w.acme,
        kind=Invitation.Kind.PASSWORD_RESET,
        user=w.bob,
        channel="email",
        address=w.bob.email,
        token_hash=hash_token("bob-reset"),
        expires_at=timezone.now() + timedelta(minutes=30),
        delivery=Invitation.Delivery.SENT,
    )
    password_reset_complete(invitation=reset, password=PASSWORD)
    return [
        Expect(Action.USER_PASSWORD_CHANGED, actor=w.bob, user=w.bob, target=w.bob),
        Expect(Action.PASSWORD_RESET_USED, actor=w.bob, user=w.bob, target=reset),
    ]


def case_invitations_send_reminders(w):
    InvitationSettings.objects.create(organization=w.acme, reminder_days_before_expiry=10)
    invitations_send_reminders()
    return [Expect(Action.INVITATION_REMINDED, actor=None, user=w.invited, target=_new_invitation(w.invited))]


# assessments.services ------------------------------------------------------------------------------


def case_questionnaire_create(w):
    questionnaire = assessment_services.questionnaire_create(
        organization=w.acme, actor=w.alice, title="Fire safety", kind="training", visibility="groups", groups=[w.lyon]
    )
    return [
        Expect(
            Action.QUESTIONNAIRE_CREATED,
            actor=w.alice,
            target=questionnaire,
            after={"title": "Fire safety", "kind": "training", "visibility": "groups", "groups": "Lyon"},
        )
    ]


def case_questionnaire_update(w):
    questionnaire = make_questionnaire(w.acme, title="Fire safety", visibility="all")
    assessment_services.questionnaire_update(
        questionnaire=questionnaire,
        actor=w.alice,
        title="Fire safety",
        kind="evaluation",
        time_limit_minutes=15,
        visibility="groups",
        groups=[w.paris],
    )
    return [
        Expect(
            Action.QUESTIONNAIRE_UPDATED,
            actor=w.alice,
            target=questionnaire,
            before={"visibility": "all", "groups": "", "time_limit_minutes": None},
            after={"visibility": "groups", "groups": "Paris", "time_limit_minutes": 15},
        )
    ]


def case_questionnaire_delete(w):
    questionnaire = make_questionnaire(w.acme, title="Fire safety", questions=1)
    pk = questionnaire.pk
    assessment_services.questionnaire_delete(questionnaire=questionnaire, actor=w.alice)
    return [
        Expect(
            Action.QUESTIONNAIRE_DELETED,
            actor=w.alice,
            target=("questionnaire", pk),
            before={"title": "Fire safety", "kind": "evaluation"},
            label="Fire safety",
        )
    ]


def case_questionnaire_publish(w):
    questionnaire = make_questionnaire(w.acme, published=False)
    assessment_services.questionnaire_publish(questionnaire=questionnaire, actor=w.alice)
    return [Expect(Action.QUESTIONNAIRE_PUBLISHED, actor=w.alice, target=questionnaire)]


def case_questionnaire_unpublish(w):
    questionnaire = make_questionnaire(w.acme, published=True)
    assessment_services.questionnaire_unpublish(questionnaire=questionnaire, actor=w.alice)
    return [Expect(Action.QUESTIONNAIRE_UNPUBLISHED, actor=w.alice, target=questionnaire)]


def case_questionnaire_import(w):
    questionnaire = assessment_services.questionnaire_import(
        organization=w.acme,
        actor=w.alice,
        title="Imported",
        kind="evaluation",
        questions=[QuestionSpec("Q?", [ChoiceSpec("A", True), ChoiceSpec("B")])],
        publish=True,
        source="quiz.json",
    )
    return [
        Expect(
            Action.QUESTIONNAIRE_IMPORTED,
            actor=w.alice,
            target=questionnaire,
            after={"title": "Imported", "questions": 1, "published": True, "file": "quiz.json"},
        )
    ]


def case_question_create(w):
    questionnaire = make_questionnaire(w.acme, questions=1, published=False)
    assessment_services.question_create(
        questionnaire=questionnaire, actor=w.alice, text="Two?", choices=[ChoiceSpec("A", True), ChoiceSpec("B")]
    )
    return [
        Expect(
            Action.QUESTION_CREATED,
            actor=w.alice,
            target=questionnaire,
            after={"question": 2, "text": "Two?", "choices": "A ✓; B"},
        )
    ]


def case_question_update(w):
    questionnaire = make_questionnaire(w.acme, questions=1, published=False)
    assessment_services.question_update(
        question=questionnaire.questions.get(),
        actor=w.alice,
        text="Question 1?",
        choices=[ChoiceSpec("Right 1", True), ChoiceSpec("Other")],
    )
    return [
        Expect(
            Action.QUESTION_UPDATED,
            actor=w.alice,
            target=questionnaire,
            before={"choices": "Right 1 ✓; Wrong 1"},
            after={"choices": "Right 1 ✓; Other"},
        )
    ]


def case_question_delete(w):
    questionnaire = make_questionnaire(w.acme, questions=2, published=False)
    assessment_services.question_delete(question=questionnaire.questions.last(), actor=w.alice)
    return [
        Expect(
            Action.QUESTION_DELETED, actor=w.alice, target=questionnaire, before={"question": 2, "text": "Question 2?"}
        )
    ]


def case_question_move(w):
    questionnaire = make_questionnaire(w.acme, questions=2, published=False)
    assessment_services.question_move(question=questionnaire.questions.first(), actor=w.alice, up=False)
    return [
        Expect(
            Action.QUESTION_MOVED,
            actor=w.alice,
            target=questionnaire,
            before={"question": 1},
            after={"question": 2, "text": "Question 1?"},
        )
    ]


def case_attempt_start(w):
    questionnaire = make_questionnaire(w.acme, title="Fire safety")
    attempt = assessment_services.attempt_start(questionnaire=questionnaire, actor=w.bob)
    return [Expect(Action.ATTEMPT_STARTED, actor=w.bob, user=w.bob, target=attempt, label="Fire safety")]


def case_attempt_submit(w):
    questionnaire = make_questionnaire(w.acme, title="Fire safety", questions=2)
    attempt = Attempt.objects.create(
        organization=w.acme, questionnaire=questionnaire, user=w.bob, started_at=timezone.now()
    )
    first = questionnaire.questions.first()
    assessment_services.answer_save(attempt=attempt, question=first, choice_ids=correct_ids(first), actor=w.bob)
    assessment_services.attempt_submit(attempt=attempt, actor=w.bob)
    return [
        Expect(
            Action.ATTEMPT_SUBMITTED,
            actor=w.bob,
            user=w.bob,
            target=attempt,
            after={"score": "50.00%", "right": "1/2"},
            label="Fire safety",
        )
    ]


def _invited_link(w, person, title="Fire safety"):
    from assessments.tests.factories import make_assignment

    questionnaire = make_questionnaire(w.acme, title=title, questions=2)
    _assignment, tokens = make_assignment(questionnaire, people=[person], created_by=w.alice)
    return Invitation.objects.get(token_hash=hash_token(tokens[person]))


def case_invited_attempt_start(w):
    from assessments.invited import invited_attempt_start

    # A contact through their link: no account to name as the actor (the client address is kept).
    attempt = invited_attempt_start(invitation=_invited_link(w, w.contact), actor=w.contact)
    after = {"contact": str(w.contact)}
    return [Expect(Action.ATTEMPT_STARTED, actor=None, target=attempt, after=after, label="Fire safety")]


def _overdue(w):
    """Bob's attempt through his link, one question of two answered right, its time up."""
    invitation = _invited_link(w, w.bob)
    questionnaire = Assignment.objects.get(batch=invitation.batch).questionnaire
    attempt = Attempt.objects.create(
        organization=w.acme,
        questionnaire=questionnaire,
        user=w.bob,
        assignee=Assignee.objects.get(user=w.bob),
        invitation=invitation,
        started_at=timezone.now() - timedelta(minutes=10),
        deadline_at=timezone.now() - timedelta(minutes=5),
    )
    first = questionnaire.questions.first()
    Answer.objects.create(
        organization=w.acme, attempt=attempt, question=first, choices=correct_ids(first), answered_at=timezone.now()
    )
    return attempt


def _submitted_as_it_stood(w, attempt):
    after = {"score": "50.00%", "right": "1/2", "time_up": True}
    return [Expect(Action.ATTEMPT_SUBMITTED, actor=None, user=w.bob, target=attempt, after=after, label="Fire safety")]


def case_attempts_submit_overdue(w):
    from assessments.invited import attempts_submit_overdue

    attempt = _overdue(w)
    assert attempts_submit_overdue() == 1
    return _submitted_as_it_stood(w, attempt)


def case_submit_locked(w):
    from django.db import transaction

    attempt = _overdue(w)
    with transaction.atomic():
        assessment_services.submit_locked(Attempt.objects.select_for_update().get(pk=attempt.pk), actor=None)
    return _submitted_as_it_stood(w, attempt)


def _assessment_invitation(w):
    """An assessment invitation of Bob, made directly (the services are what the cases check)."""
    from assessments.models import Assignee, Assignment

    now = timezone.now()
    assignment = Assignment.objects.create(
        organization=w.acme,
        questionnaire=make_questionnaire(w.acme, title="Fire safety"),
        opens_at=now,
        closes_at=now + timedelta(days=1),
        send_at=now,
        batch=InvitationBatch.objects.create(organization=w.acme, created_by=w.alice),
        created_by=w.alice,
    )
    Assignee.objects.create(organization=w.acme, assignment=assignment, user=w.bob, added_at=now)
    return assignment


def case_assessment_invite(w):
    from flows.assessments import Selection, assessment_invite

    quiz = make_questionnaire(w.acme, title="Fire safety")
    assignment, _summary = assessment_invite(
        actor=w.alice, questionnaire=quiz, selection=Selection(user_ids=(w.bob.pk,), addresses="new@example.org")
    )
    contact = Contact.objects.get(organization=w.acme, email="new@example.org")
    return [
        Expect(
            Action.ASSESSMENT_INVITED,
            actor=w.alice,
            target=assignment,
            label="Fire safety",
            after={
                "people": 2,
                "new contacts": 1,
                "opens": assignment.opens_at.isoformat(),
                "closes": assignment.closes_at.isoformat(),
                "send at": assignment.send_at.isoformat(),
            },
        ),
        Expect(
            Action.CONTACT_CREATED,
            actor=w.alice,
            target=contact,
            after={"email": "new@example.org", "language": "en"},
        ),
    ]


def case_assignment_add_people(w):
    from flows.assessments import Selection, assignment_add_people

    assignment = _assessment_invitation(w)
    assignment_add_people(actor=w.alice, assignment=assignment, selection=Selection(user_ids=(w.ines.pk,)))
    return [
        Expect(
            Action.ASSESSMENT_PEOPLE_ADDED,
            actor=w.alice,
            target=assignment,
            label="Fire safety",
            after={"people": 1, "new contacts": 0},
        )
    ]


def case_assignment_remove_person(w):
    from flows.assessments import assignment_remove_person

    assignment = _assessment_invitation(w)
    assignment_remove_person(actor=w.alice, assignee=assignment.assignees.get())
    return [Expect(Action.ASSESSMENT_PERSON_REMOVED, actor=w.alice, target=assignment, user=w.bob, label=str(w.bob))]


def case_assignments_send_reminders(w):
    from assessments.models import AssessmentSettings, Assignment
    from flows.assessment_reminders import assignments_send_reminders

    AssessmentSettings.objects.create(organization=w.acme, reminder_hours_before_closing=2)
    assignment = _assessment_invitation(w)
    Assignment.objects.filter(pk=assignment.pk).update(closes_at=timezone.now() + timedelta(hours=1))
    assignments_send_reminders()
    return [Expect(Action.ASSESSMENT_REMINDED, target=assignment, after={"people": 1})]


TABLE = {
    "assessments.invited.invited_attempt_start": case_invited_attempt_start,
    "assessments.invited.attempts_submit_overdue": case_attempts_submit_overdue,
    "assessments.services.submit_locked": case_submit_locked,
    "flows.organization.organization_settings_update": case_organization_settings_update,
    "assessments.exports.results_export_record": case_results_export_record,
    "audit.services.audit_trail_export_record": case_audit_trail_export_record,
    "accounts.services.organization_create": case_organization_create,
    "accounts.services.user_create": case_user_create,
    "accounts.services.user_update": case_user_update,
    "accounts.services.user_change_status": case_user_change_status,
    "accounts.services.users_mark_invited": case_users_mark_invited,
    "accounts.services.user_set_password": case_user_set_password,
    "accounts.services.user_language_choose": case_user_language_choose,
    "accounts.services.users_set_type": case_users_set_type,
    "accounts.services.users_set_language": case_users_set_language,
    "accounts.services.users_set_channel": case_users_set_channel,
    "accounts.services.users_fields_restore": case_users_fields_restore,
    "flows.jobs.bulk_undo_start": case_bulk_undo_start,
    "accounts.services.contact_create": case_contact_create,
    "flows.contact_import.contacts_import": case_contacts_import,
    "accounts.services.contact_update": case_contact_update,
    "accounts.services.contact_delete": case_contact_delete,
    "accounts.services.user_type_create": case_user_type_create,
    "accounts.services.user_type_rename": case_user_type_rename,
    "accounts.services.user_type_delete": case_user_type_delete,
    "accounts.services.users_export_record": case_users_export_record,
    "flows.people.user_create_with_groups": case_user_create_with_groups,
    "flows.people.user_update_with_groups": case_user_update_with_groups,
    "flows.people.user_status_action": case_user_status_action,
    "flows.people.user_status_action[temporary password]": case_user_status_action_with_a_temporary_password,
    "flows.contacts.contact_convert": case_contact_convert,
    "flows.contacts.contacts_convert": case_contacts_convert,
    "flows.imports.users_import": case_users_import,
    "groups.services.group_create": case_group_create,
    "groups.services.group_update": case_group_update,
    "groups.services.group_delete": case_group_delete,
    "groups.services.group_add_members": case_group_add_members,
    "groups.services.group_add_created_users": case_group_add_created_users,
    "groups.services.group_remove_members": case_group_remove_members,
    "groups.services.group_restore_members": case_group_restore_members,
    "groups.services.memberships_set": case_memberships_set,
    "groups.services.user_place_in_groups": case_user_place_in_groups,
    "rights.services.user_set_administrator": case_user_set_administrator,
    "rights.services.user_rights_set": case_user_rights_set,
    "rights.services.profile_create": case_profile_create,
    "rights.services.profile_update": case_profile_update,
    "rights.services.profile_delete": case_profile_delete,
    "invitations.services.account.invitations_send": case_invitations_send,
    "invitations.services.account.invitation_resend": case_invitation_resend,
    "invitations.services.account.invitation_resend[temporary password]": (
        case_invitation_resend_of_a_temporary_password
    ),
    "invitations.services.account.invitation_revoke": case_invitation_revoke,
    "invitations.services.account.invitations_revoke_for_user": case_invitations_revoke_for_user,
    "invitations.services.revocation.account_links_revoke": case_account_links_revoke,
    "invitations.services.revocation.account_links_revoke_for_users": case_account_links_revoke_for_users,
    "invitations.services.account.invitations_resend_to_group": case_invitations_resend_to_group,
    "invitations.services.account.batch_retry_failed": case_batch_retry_failed,
    "flows.invitations.invitations_invite_addresses": case_invitations_invite_addresses,
    "invitations.services.account.user_activate_with_temporary_password": case_user_activate_with_temporary_password,
    "invitations.services.resets.password_reset_request": case_password_reset_request,
    "invitations.services.acceptance.invitation_accept": case_invitation_accept,
    "invitations.services.acceptance.password_reset_complete": case_password_reset_complete,
    "invitations.services.account.invitations_send_reminders": case_invitations_send_reminders,
    "assessments.services.questionnaire_create": case_questionnaire_create,
    "assessments.services.questionnaire_update": case_questionnaire_update,
    "assessments.services.questionnaire_delete": case_questionnaire_delete,
    "assessments.services.questionnaire_publish": case_questionnaire_publish,
    "assessments.services.questionnaire_unpublish": case_questionnaire_unpublish,
    "assessments.services.questionnaire_import": case_questionnaire_import,
    "assessments.services.question_create": case_question_create,
    "assessments.services.question_update": case_question_update,
    "assessments.services.question_delete": case_question_delete,
    "assessments.services.question_move": case_question_move,
    "assessments.services.attempt_start": case_attempt_start,
    "assessments.services.attempt_submit": case_attempt_submit,
    "flows.assessments.assessment_invite": case_assessment_invite,
    "flows.assessments.assignment_add_people": case_assignment_add_people,
    "flows.assessments.assignment_remove_person": case_assignment_remove_person,
    "flows.assessment_reminders.assignments_send_reminders": case_assignments_send_reminders,
}


def public_services():
    """Every public function defined in a services module, as "module.function"."""
    return {
        f"{module.__name__}.{name}"
        for module in SERVICE_MODULES
        for name, function in inspect.getmembers(module, inspect.isfunction)
        if not name.startswith("_") and function.__module__ == module.__name__
    }


def test_every_service_is_in_the_table():
    listed = {name.split("[")[0] for name in TABLE} | set(NOT_AUDITED)
    missing = sorted(public_services() - listed)
    assert not missing, (
        f"Services with no row in audit/tests/{__name__.rsplit('.', 1)[-1]}.py: {missing}. Add a TABLE row that runs "
        "the service and lists the audit events it must write, or a NOT_AUDITED line saying why it records none."
    )
    assert not listed - public_services(), f"Stale rows: {sorted(listed - public_services())}"


def test_every_services_module_is_walked():
    """A new module of write services (any module named `services` or inside a `services` package, or
    one that opens a transaction, on any floor below the pages) is walked by the test above, so its
    services cannot go unlisted."""
    found = set()
    for module, tree in product_modules():
        if module.startswith("web.") or ".management." in module:
            continue  # pages and commands call the services
        if module.endswith(".__init__"):
            if not any(isinstance(node, ast.FunctionDef) for node in tree.body):
                continue  # a package's docstring (its modules are walked one by one)
            module = module.removesuffix(".__init__")
        writes = any(isinstance(node, ast.Attribute) and node.attr == "atomic" for node in ast.walk(tree))
        if "services" in module.split(".") or writes:
            found.add(module)
    walked = {module.__name__ for module in SERVICE_MODULES}
    missing = sorted(found - walked - set(NOT_SERVICE_MODULES))
    assert not missing, (
        f"Modules of write services this test does not walk: {missing}. Add them to SERVICE_MODULES (then a row "
        "per public service), or to NOT_SERVICE_MODULES with the reason they hold no service to audit."
    )
    assert not set(NOT_SERVICE_MODULES) - found, f"Stale: {sorted(set(NOT_SERVICE_MODULES) - found)}"


def check_events(name, w):
    last = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    expected = TABLE[name](w)
    events = list(AuditEvent.objects.filter(pk__gt=last).order_by("pk"))
    assert sorted(map(_event_key, events)) == sorted(expect.key() for expect in expected), (
        f"{name} wrote {[(e.action, e.target_label) for e in events]}, expected {[e.action for e in expected]}"
    )
    unmatched = {}
    for event in events:
        unmatched.setdefault(_event_key(event), []).append(event)
    for expect in expected:
        event = unmatched[expect.key()].pop(0)
        what = f"{name} → {expect.action}"
        assert event.organization_id == _pk(expect.organization or w.acme), f"{what}: organisation"
        assert event.actor_id == _pk(expect.actor), f"{what}: actor {event.actor}, expected {expect.actor}"
        assert event.target_user_id == _pk(expect.user), f"{what}: person {event.target_user}, expected {expect.user}"
        assert (event.target_type, event.target_id) == _target_key(expect.target), f"{what}: target"
        assert event.before == expect.before, f"{what}: before {event.before}"
        assert event.after == expect.after, f"{what}: after {event.after}"
        if expect.label is not None:
            assert event.target_label == expect.label, f"{what}: label {event.target_label!r}"
        if expect.target is not None or expect.user is not None:
            # Readable after the target is gone: the display text was captured when it was written.
            assert event.target_text, f"{what}: no readable target"


@pytest.mark.parametrize("name", list(TABLE))
def test_the_service_records_exactly_its_events(name, w):
    check_events(name, w)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", list(TABLE))
def test_the_service_records_its_events_when_called_outside_any_transaction(name, w):
    """As views call them: a service that records outside its own transaction would raise here."""
    check_events(name, w)
