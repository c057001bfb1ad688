"""Every service checks its actor (the convention of experquiz.authorization), proved service by service.

The list of services is the audit test's (`public_services()`): each public function of a services
module has a CASE here, or a NO_ACTOR line saying why no actor is checked (the system's work, a
person's own link, a step of another service, a read). Each CASE calls the service as

- Bob, a plain user (no right at all),
- Maggie, who manages and invites the people of Lyon and manages the questionnaires of Lyon, on
  someone or something outside Lyon (Otto or Pam of Paris, the Paris group, a contact, an
  administrator's setting, a questionnaire shown to Paris, Otto's attempt, Alice's import),

and each must be refused with a domain error (NotAllowed) and leave every table as it was. The same
call by the rightful actor then succeeds, so a refusal is the check's doing, not a broken call.

A second test reads the code: `actor=None` (the system) is passed to a checked service only from a
Celery task, a management command, or one of the system steps listed in SYSTEM_CALLERS.
"""

import ast
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import ContactFactory, MembershipFactory, UserFactory, UserTypeFactory
from assessments.models import Assignee, Assignment, Attempt, Questionnaire
from assessments.tests.factories import correct_ids, make_questionnaire
from audit.tests.test_every_service_records import public_services
from experquiz.authorization import NotAllowed
from experquiz.tests.codebase import product_modules
from groups.tests.factories import RightsProfileFactory, grant
from invitations.models import Invitation, InvitationBatch
from invitations.tokens import hash_token
from rights.names import Right
from rights.selectors import Scope

pytestmark = pytest.mark.django_db
Status = User.Status

# Public services that check no actor, and why.
NO_ACTOR = {
    # The system's work: tasks, beat and commands, where no person acts.
    "accounts.services.organization_create": "system: a new organisation and its first administrator "
    "(the createtenant command, the demo); nobody of it exists yet to act",
    "accounts.services.import_files_purge": "system: the hourly clean-up of files never imported (beat, purgeimports)",
    "invitations.services.outbox.invitations_enqueue": "system: queues the delivery of messages a checked "
    "service wrote",
    "invitations.services.delivery.invitations_release_claims": "system: the delivery worker's bookkeeping when "
    "it starts",
    "invitations.services.outbox.invitations_sweep": "system: beat re-queues lost deliveries",
    "invitations.services.delivery.invitations_deliver": "system: the worker delivers what a checked service wrote",
    "invitations.services.account.invitations_send_reminders": "system: beat reminds those invited, by whoever "
    "invited them",
    "assessments.invited.attempts_submit_overdue": "system: beat submits, as they stand, the attempts whose time is up",
    "flows.assessment_reminders.assignments_send_reminders": "system: beat reminds those invited to an assessment "
    "who have not started",
    # A person on their own, authorised by a link sent to them or by what they type on a public page.
    "invitations.services.resets.password_reset_ask": "anyone on the forgotten-password page: only the account's own "
    "address ever receives the link",
    "invitations.services.resets.password_reset_request": "the look-up task behind the forgotten-password page: the "
    "link goes to the account's own address",
    "invitations.services.acceptance.invitation_accept": "the person invited, authorised by the link sent to them",
    "invitations.services.acceptance.password_reset_complete": "the person, authorised by the reset link sent to them",
    # Steps inside another service's transaction, which checked its actor (they record it).
    "accounts.services.account_links_outdated_for": "a step of the service that changed the account: sends the hook",
    "accounts.services.users_history_note": "a step of account_links_revoke_for_users: history rows",
    "assessments.services.submit_locked": "a step of attempt_submit, which checked its actor, and of the system's "
    "overdue submissions",
    "invitations.services.revocation.account_links_revoke_for_users": "the answer to the account_links_outdated "
    "hook, sent by a service that checked its actor",
    "invitations.services.revocation.account_links_revoke": "the same, for one user; and the worker after a "
    "temporary password",
    "invitations.services.revocation.invitations_revoke_on_status_change": "the answer to the user_status_changed "
    "hook, sent by the status service once it checked its actor",
    # Reads and helpers: they change nothing.
    "accounts.services.link_fields_changes": "reads: which login IDs changed",
    "invitations.services.outbox.chunks": "a helper splitting a list",
    "invitations.services.outbox.invitation_row": "a helper building an unsaved row for a checked service",
    "invitations.services.revocation.revoke_outstanding": "the update behind the revoking services, which "
    "checked their actor",
    "invitations.services.acceptance.invitation_problem": "reads: why a link cannot be used",
    "flows.invitations.split_addresses": "a helper splitting pasted text",
    "assessments.services.recorded_actor": "a helper: who the audit trail names for an actor",
    "flows.organization.organization_settings_of": "reads: the settings page's current values",
    "flows.contact_import.contacts_file_read": "reads: the rows of an uploaded contacts file",
    "flows.contact_import.contacts_import_check": "reads: each row of a contacts file as it would be imported",
    "flows.invitations.invitations_paste_preview": "reads: what a paste would do (confirmation page)",
    # The audit recorder: called inside the transaction of a service that checked its actor, to record it.
    "audit.services.audit_event": "the recorder: builds the event of a service that checked its actor",
    "audit.services.audit_record": "the recorder: writes the event of a service that checked its actor",
    "audit.services.audit_record_many": "the recorder: writes the events of a service that checked its actor",
    "audit.services.changed": "the recorder's helper: what differs between before and after",
    "audit.services.short": "the recorder's helper: a value cut for the trail",
}


@dataclass(frozen=True)
class Case:
    call: object  # (z, actor) → calls the service as `actor` on something outside Maggie's groups
    rightful: str = "alice"  # who may make the same call (the control)
    # Why Maggie has no "outside her groups" here, when she may make the call (the records of what her
    # own scope gave her); None: she must be refused like Bob.
    scoped_note: str | None = None


@pytest.fixture
def z(acme, alice, bob, maggie, lyon, paris, ines, otto):
    """Acme: Alice (administrator), Bob (plain), Maggie (manages and invites Lyon: Ines), and in Paris
    Otto (active) and Pam (created, with an account invitation that failed); a contact; a profile.
    Maggie also manages Lyon's questionnaires; Alice made two shown to Paris (one published, one
    draft) and a third, published, that Otto has started; Alice uploaded a people file, checked."""
    from flows.jobs import import_job_create

    grant(maggie, Right.MANAGE_QUESTIONNAIRES, lyon)
    shown_to_paris = {"visibility": Questionnaire.Visibility.GROUPS, "groups": [paris], "created_by": alice}
    quiz = make_questionnaire(acme, title="Paris quiz", **shown_to_paris)
    draft = make_questionnaire(acme, title="Paris draft", published=False, **shown_to_paris)
    taken = make_questionnaire(acme, title="Paris test", **shown_to_paris)
    attempt = Attempt.objects.create(organization=acme, questionnaire=taken, user=otto, started_at=timezone.now())
    job = import_job_create(
        organization=acme, actor=alice, filename="people.csv", data=b"email\nnina@acme.example\n", invite=False
    )
    pam = UserFactory(organization=acme, first_name="Pam", last_name="Paris", status=Status.CREATED)
    MembershipFactory(group=paris, user=pam)
    batch = InvitationBatch.objects.create(organization=acme, created_by=alice, label="Paris")
    # Otto invited to an assessment shown to Paris (made directly: the services are what the cases check).
    now = timezone.now()
    assessed = make_questionnaire(acme, title="Paris assessment", **shown_to_paris)
    assignment = Assignment.objects.create(
        organization=acme,
        questionnaire=assessed,
        opens_at=now,
        closes_at=now + timedelta(days=1),
        send_at=now,
        batch=InvitationBatch.objects.create(organization=acme, created_by=alice, label="Paris quiz"),
        created_by=alice,
    )
    assignee = Assignee.objects.create(organization=acme, assignment=assignment, user=otto, added_at=now)
    invitation = Invitation.objects.create(
        organization=acme,
        user=pam,
        channel="email",
        address=pam.email,
        token_hash=hash_token("pam"),
        expires_at=timezone.now() + timedelta(days=7),
        delivery=Invitation.Delivery.FAILED,
        batch=batch,
        created_by=alice,
    )
    # Otto is invited to the Paris test: his link.
    from assessments.tests.factories import make_assignment

    _assignment, tokens = make_assignment(taken, people=[otto], created_by=alice)
    otto_link = Invitation.objects.get(token_hash=hash_token(tokens[otto]))
    from accounts.models import BulkChange, BulkJob

    bulk_job = BulkJob.objects.create(
        organization=acme, created_by=alice, action="set_language", params={"value": "fr"}, state=BulkJob.State.DONE
    )
    BulkChange.objects.create(organization=acme, job=bulk_job, user=otto, before="en")
    return SimpleNamespace(
        bulk_job=bulk_job,
        otto_link=otto_link,
        acme=acme,
        alice=alice,
        bob=bob,
        maggie=maggie,
        lyon=lyon,
        paris=paris,
        ines=ines,
        otto=otto,
        pam=pam,
        batch=batch,
        invitation=invitation,
        contact=ContactFactory(organization=acme, first_name="Carla", email="carla@acme.example"),
        user_type=UserTypeFactory(organization=acme, name="Trainee"),
        profile=RightsProfileFactory(organization=acme, name="Paris managers"),
        # A person each actor has just created, in no group yet.
        new_by={actor.pk: UserFactory(organization=acme, created_by=actor) for actor in (alice, bob, maggie)},
        quiz=quiz,
        question=quiz.questions.order_by("position").first(),
        draft=draft,
        taken=taken,
        attempt=attempt,
        job=job,
        assessed=assessed,
        assignment=assignment,
        assignee=assignee,
    )


def _identity(user, **changes):
    fields = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "mobile": user.mobile,
        "preferred_channel": user.preferred_channel,
        "language": user.language,
        "user_type": user.user_type,
    }
    return fields | changes


def _import(z, actor):
    from flows import importing
    from flows.imports import users_import

    # Checked by the administrator (Otto updated, a new person put in Paris), applied by `actor`.
    header = ["first_name", "last_name", "email", "groups"]
    rows = [["Otto", "Renamed", z.otto.email, "Paris"], ["Nina", "New", "nina@acme.example", "Paris"]]
    check = importing.check_rows(organization=z.acme, actor=z.alice, header=header, rows=rows)
    assert not check.has_errors
    users_import(organization=z.acme, actor=actor, check=check)


def _convert(function):
    def call(z, actor):
        from flows import contacts

        if function == "contacts_convert":
            _converted, refused = contacts.contacts_convert(contacts=[z.contact], to="created", actor=actor)
            assert not refused, refused
        else:
            contacts.contact_convert(contact=z.contact, to="created", actor=actor)

    return call


def _questionnaire_fields(z, **changes):
    """A questionnaire's settings, shown to Paris (outside Maggie's groups)."""
    fields = {
        "title": "Paris quiz",
        "kind": Questionnaire.Kind.EVALUATION,
        "visibility": Questionnaire.Visibility.GROUPS,
        "groups": [z.paris],
    }
    return fields | changes


def _question():
    from assessments.services import ChoiceSpec

    return {"text": "Which one?", "choices": [ChoiceSpec("This one", True), ChoiceSpec("That one")]}


def _services(name):
    module, function = name.rsplit(".", 1)
    return getattr(__import__(module, fromlist=[function]), function)


S = _services


def _bulk(name):
    from flows import bulk

    return bulk.REGISTRY[name]


CASES = {
    # accounts.services
    "accounts.services.user_create": Case(
        lambda z, a: S("accounts.services.user_create")(
            organization=z.acme, actor=a, email="nina@acme.example", groups=[z.paris]
        )
    ),
    "accounts.services.user_update": Case(
        lambda z, a: S("accounts.services.user_update")(user=z.otto, actor=a, **_identity(z.otto, first_name="Ot"))
    ),
    "accounts.services.user_change_status": Case(
        lambda z, a: S("accounts.services.user_change_status")(user=z.otto, to=Status.INACTIVE, actor=a)
    ),
    "accounts.services.users_mark_invited": Case(
        lambda z, a: S("accounts.services.users_mark_invited")(organization=z.acme, user_ids=[z.pam.pk], actor=a)
    ),
    "accounts.services.user_language_choose": Case(
        lambda z, a: S("accounts.services.user_language_choose")(user=z.otto, language="fr", actor=a),
        rightful="otto",
    ),
    "accounts.services.users_set_type": Case(
        lambda z, a: S("accounts.services.users_set_type")(
            organization=z.acme, user_ids=[z.otto.pk], user_type=z.user_type, actor=a
        )
    ),
    "accounts.services.users_set_language": Case(
        lambda z, a: S("accounts.services.users_set_language")(
            organization=z.acme, user_ids=[z.otto.pk], language="fr", actor=a
        )
    ),
    "accounts.services.users_set_channel": Case(
        lambda z, a: S("accounts.services.users_set_channel")(
            organization=z.acme, user_ids=[z.otto.pk], channel="sms", actor=a
        )
    ),
    "accounts.services.users_fields_restore": Case(
        lambda z, a: S("accounts.services.users_fields_restore")(
            organization=z.acme, field="language", previous={z.otto.pk: "fr"}, current="en", actor=a
        )
    ),
    "accounts.services.user_set_password": Case(
        lambda z, a: S("accounts.services.user_set_password")(user=z.otto, password="a new password 42", actor=a),
        rightful="otto",
    ),
    "accounts.services.contact_create": Case(
        lambda z, a: S("accounts.services.contact_create")(organization=z.acme, actor=a, email="cand@example.org")
    ),
    "flows.contact_import.contacts_import": Case(
        lambda z, a: S("flows.contact_import.contacts_import")(
            organization=z.acme, actor=a, rows=[{"email": "cand@example.org"}]
        )
    ),
    "accounts.services.contact_update": Case(
        lambda z, a: S("accounts.services.contact_update")(
            contact=z.contact, actor=a, first_name="C", last_name="", email=z.contact.email, mobile="", language="en"
        )
    ),
    "accounts.services.contact_delete": Case(
        lambda z, a: S("accounts.services.contact_delete")(contact=z.contact, actor=a)
    ),
    "accounts.services.user_type_create": Case(
        lambda z, a: S("accounts.services.user_type_create")(organization=z.acme, name="Intern", actor=a)
    ),
    "accounts.services.user_type_rename": Case(
        lambda z, a: S("accounts.services.user_type_rename")(user_type=z.user_type, name="Apprentice", actor=a)
    ),
    "accounts.services.user_type_delete": Case(
        lambda z, a: S("accounts.services.user_type_delete")(user_type=z.user_type, actor=a)
    ),
    "accounts.services.users_export_record": Case(
        lambda z, a: S("accounts.services.users_export_record")(
            organization=z.acme, actor=a, fmt="csv", filters={}, rows=1
        ),
        scoped_note="records what Maggie's own scope gave her: there is no one outside it in an export of hers",
    ),
    "flows.organization.organization_settings_update": Case(
        lambda z, a: S("flows.organization.organization_settings_update")(
            organization=z.acme,
            actor=a,
            language="fr",
            phone_region="BE",
            invitation_lifetime_days=7,
            invitation_reminder_days=1,
            send_minutes_before_opening=15,
            default_window_hours=12,
            assessment_reminder_hours=2,
        )
    ),
    "assessments.exports.results_export_record": Case(
        lambda z, a: S("assessments.exports.results_export_record")(
            questionnaire=z.taken, actor=a, fmt="csv", filters={}, rows=1
        )
    ),
    # groups.services
    "groups.services.group_create": Case(
        lambda z, a: S("groups.services.group_create")(organization=z.acme, actor=a, name="Nice")
    ),
    "groups.services.group_update": Case(
        lambda z, a: S("groups.services.group_update")(group=z.paris, actor=a, name="Paris 1")
    ),
    "groups.services.group_delete": Case(lambda z, a: S("groups.services.group_delete")(group=z.paris, actor=a)),
    "groups.services.group_add_members": Case(
        lambda z, a: S("groups.services.group_add_members")(group=z.paris, users=[z.ines], actor=a)
    ),
    "groups.services.group_add_created_users": Case(
        lambda z, a: S("groups.services.group_add_created_users")(group=z.paris, users=[z.new_by[a.pk]], actor=a)
    ),
    "groups.services.group_remove_members": Case(
        lambda z, a: S("groups.services.group_remove_members")(group=z.paris, users=[z.otto], actor=a)
    ),
    "groups.services.group_restore_members": Case(
        lambda z, a: S("groups.services.group_restore_members")(
            group=z.paris, memberships=[(z.ines.pk, None, None)], actor=a
        )
    ),
    "groups.services.memberships_set": Case(
        lambda z, a: S("groups.services.memberships_set")(actor=a, users=[z.otto], groups=[z.paris], pairs=set())
    ),
    "groups.services.new_user_groups_check": Case(
        lambda z, a: S("groups.services.new_user_groups_check")(actor=a, groups=[z.paris])
    ),
    "groups.services.user_place_in_groups": Case(
        lambda z, a: S("groups.services.user_place_in_groups")(user=z.new_by[a.pk], groups=[z.paris], actor=a)
    ),
    # rights.services
    "rights.services.user_set_administrator": Case(
        lambda z, a: S("rights.services.user_set_administrator")(user=z.otto, is_administrator=True, actor=a)
    ),
    "rights.services.user_rights_set": Case(
        lambda z, a: S("rights.services.user_rights_set")(
            user=z.otto, actor=a, is_administrator=False, profiles=[], grants={Right.INVITE: Scope(all_users=True)}
        )
    ),
    "rights.services.profile_create": Case(
        lambda z, a: S("rights.services.profile_create")(organization=z.acme, actor=a, name="Readers", grants={})
    ),
    "rights.services.profile_update": Case(
        lambda z, a: S("rights.services.profile_update")(profile=z.profile, actor=a, name="Renamed", grants={})
    ),
    "rights.services.profile_delete": Case(
        lambda z, a: S("rights.services.profile_delete")(profile=z.profile, actor=a)
    ),
    # invitations.services.*
    "invitations.services.account.invitations_send": Case(
        lambda z, a: S("invitations.services.account.invitations_send")(organization=z.acme, users=[z.pam], actor=a)
    ),
    "invitations.services.account.invitation_resend": Case(
        lambda z, a: S("invitations.services.account.invitation_resend")(invitation=z.invitation, actor=a)
    ),
    "invitations.services.account.invitation_revoke": Case(
        lambda z, a: S("invitations.services.account.invitation_revoke")(invitation=z.invitation, actor=a)
    ),
    "invitations.services.account.invitations_revoke_for_user": Case(
        lambda z, a: S("invitations.services.account.invitations_revoke_for_user")(user=z.pam, actor=a)
    ),
    "invitations.services.account.invitations_resend_to_group": Case(
        lambda z, a: S("invitations.services.account.invitations_resend_to_group")(
            organization=z.acme, group=z.paris, actor=a
        )
    ),
    "invitations.services.account.batch_retry_failed": Case(
        lambda z, a: S("invitations.services.account.batch_retry_failed")(batch=z.batch, actor=a)
    ),
    "invitations.services.account.user_activate_with_temporary_password": Case(
        lambda z, a: S("invitations.services.account.user_activate_with_temporary_password")(user=z.pam, actor=a)
    ),
    # flows
    "flows.people.user_create_with_groups": Case(
        lambda z, a: S("flows.people.user_create_with_groups")(
            organization=z.acme, actor=a, email="nina@acme.example", groups=[z.paris]
        )
    ),
    "flows.people.user_update_with_groups": Case(
        lambda z, a: S("flows.people.user_update_with_groups")(
            user=z.otto, actor=a, groups=[], manageable_groups=[], **_identity(z.otto, first_name="Ot")
        )
    ),
    "flows.people.user_status_action": Case(
        lambda z, a: S("flows.people.user_status_action")(user=z.pam, to=Status.ACTIVE, actor=a)
    ),
    "flows.contacts.contact_convert": Case(_convert("contact_convert")),
    "flows.contacts.contacts_convert": Case(_convert("contacts_convert")),
    "flows.imports.users_import": Case(_import),
    "flows.invitations.invitations_invite_addresses": Case(
        lambda z, a: S("flows.invitations.invitations_invite_addresses")(
            organization=z.acme, actor=a, text="nina@acme.example", group=z.paris
        )
    ),
    "flows.jobs.import_job_create": Case(
        lambda z, a: S("flows.jobs.import_job_create")(
            organization=z.acme, actor=a, filename="p.csv", data=b"email\notto.2@acme.example\n", invite=True
        ),
        scoped_note="keeps her file and checks it within her scope: every row outside her groups is an error "
        "the confirmation refuses",
    ),
    "flows.jobs.import_job_confirm": Case(lambda z, a: S("flows.jobs.import_job_confirm")(job=z.job, actor=a)),
    "flows.jobs.bulk_job_start": Case(
        lambda z, a: S("flows.jobs.bulk_job_start")(
            organization=z.acme, actor=a, action=_bulk("add_to_group"), filters="", group=z.paris, total=1
        )
    ),
    # Alice's bulk edit of Otto's language: only she undoes it.
    "flows.jobs.bulk_undo_start": Case(lambda z, a: S("flows.jobs.bulk_undo_start")(job=z.bulk_job, actor=a)),
    "flows.jobs.group_invitations_start": Case(
        lambda z, a: S("flows.jobs.group_invitations_start")(organization=z.acme, actor=a, group=z.paris)
    ),
    # audit.services
    "audit.services.audit_trail_export_record": Case(
        lambda z, a: S("audit.services.audit_trail_export_record")(organization=z.acme, actor=a, filters={}, rows=1)
    ),
    # assessments.services: questionnaires shown to Paris, Otto's attempt
    "assessments.services.questionnaire_create": Case(
        lambda z, a: S("assessments.services.questionnaire_create")(
            organization=z.acme, actor=a, **_questionnaire_fields(z)
        )
    ),
    "assessments.services.questionnaire_update": Case(
        lambda z, a: S("assessments.services.questionnaire_update")(
            questionnaire=z.quiz, actor=a, **_questionnaire_fields(z, title="Renamed")
        )
    ),
    "assessments.services.questionnaire_delete": Case(
        lambda z, a: S("assessments.services.questionnaire_delete")(questionnaire=z.quiz, actor=a)
    ),
    "assessments.services.questionnaire_publish": Case(
        lambda z, a: S("assessments.services.questionnaire_publish")(questionnaire=z.draft, actor=a)
    ),
    "assessments.services.questionnaire_unpublish": Case(
        lambda z, a: S("assessments.services.questionnaire_unpublish")(questionnaire=z.quiz, actor=a)
    ),
    "assessments.services.questionnaire_import": Case(
        lambda z, a: S("assessments.services.questionnaire_import")(
            organization=z.acme,
            actor=a,
            questions=[S("assessments.services.QuestionSpec")(**_question())],
            **_questionnaire_fields(z),
        )
    ),
    "assessments.services.question_create": Case(
        lambda z, a: S("assessments.services.question_create")(questionnaire=z.quiz, actor=a, **_question())
    ),
    "assessments.services.question_update": Case(
        lambda z, a: S("assessments.services.question_update")(question=z.question, actor=a, **_question())
    ),
    "assessments.services.question_delete": Case(
        lambda z, a: S("assessments.services.question_delete")(question=z.question, actor=a)
    ),
    "assessments.services.question_move": Case(
        lambda z, a: S("assessments.services.question_move")(question=z.question, actor=a, up=False)
    ),
    # Taking a questionnaire is membership, not a right: Otto (of Paris) may, Bob and Maggie may not.
    "assessments.services.attempt_start": Case(
        lambda z, a: S("assessments.services.attempt_start")(questionnaire=z.quiz, actor=a), rightful="otto"
    ),
    "assessments.services.answer_save": Case(
        lambda z, a: S("assessments.services.answer_save")(
            attempt=z.attempt,
            question=z.taken.questions.first(),
            choice_ids=correct_ids(z.taken.questions.first()),
            actor=a,
        ),
        rightful="otto",
    ),
    "assessments.services.attempt_submit": Case(
        lambda z, a: S("assessments.services.attempt_submit")(attempt=z.attempt, actor=a), rightful="otto"
    ),
    # An assessment link is its person's: Otto's, whoever else holds it (a forwarded link).
    "assessments.invited.invited_attempt_start": Case(
        lambda z, a: S("assessments.invited.invited_attempt_start")(invitation=z.otto_link, actor=a), rightful="otto"
    ),
    "assessments.invited.assignee_mark_opened": Case(
        lambda z, a: S("assessments.invited.assignee_mark_opened")(invitation=z.otto_link, actor=a), rightful="otto"
    ),
    # Assessment invitations: the invite right over the people, to a questionnaire the inviter may use.
    "flows.assessments.assessment_invitation_preview": Case(
        lambda z, a: S("flows.assessments.assessment_invitation_preview")(
            actor=a, questionnaire=z.assessed, selection=S("flows.assessments.Selection")(user_ids=(z.otto.pk,))
        )
    ),
    "flows.assessments.assessment_invite": Case(
        lambda z, a: S("flows.assessments.assessment_invite")(
            actor=a, questionnaire=z.assessed, selection=S("flows.assessments.Selection")(user_ids=(z.otto.pk,))
        )
    ),
    "flows.assessments.assignment_add_people": Case(
        lambda z, a: S("flows.assessments.assignment_add_people")(
            actor=a, assignment=z.assignment, selection=S("flows.assessments.Selection")(user_ids=(z.ines.pk,))
        )
    ),
    "flows.assessments.assignment_remove_person": Case(
        lambda z, a: S("flows.assessments.assignment_remove_person")(actor=a, assignee=z.assignee)
    ),
}


def test_every_service_has_a_case_or_a_reason():
    services = public_services()
    listed = set(CASES) | set(NO_ACTOR)
    missing = sorted(services - listed)
    assert not missing, (
        f"Services with no authorisation case in experquiz/tests/test_authorization.py: {missing}. Add a CASE "
        "that calls it on something outside a group-scoped manager's groups, or a NO_ACTOR line saying why no "
        "actor is checked."
    )
    assert not listed - services, f"Stale: {sorted(listed - services)}"
    assert not set(CASES) & set(NO_ACTOR), sorted(set(CASES) & set(NO_ACTOR))


# Every table of the product's apps: a refusal leaves all of them as they were.
APPS = ("accounts", "usergroups", "rights", "invitations", "audit", "assessments")


def tables():
    return {
        model._meta.label: list(model.objects.order_by("pk").values())
        for label in APPS
        for model in apps.get_app_config(label).get_models()
    }


def _refused(name, z, actor):
    before = tables()
    with pytest.raises(NotAllowed) as refused:
        CASES[name].call(z, actor)
    assert refused.value.message, f"{name}: a refusal without a message"
    assert tables() == before, f"{name}: refused for {actor}, but something was written"


@pytest.mark.parametrize("name", list(CASES))
def test_a_plain_user_is_refused(name, z):
    _refused(name, z, z.bob)


@pytest.mark.parametrize("name", list(CASES))
def test_a_group_scoped_manager_is_refused_outside_their_groups(name, z):
    if CASES[name].scoped_note:
        CASES[name].call(z, z.maggie)  # allowed: what her own scope gave her
        return
    _refused(name, z, z.maggie)


@pytest.mark.parametrize("name", list(CASES))
def test_the_rightful_actor_makes_the_same_call(name, z):
    """The control: the call itself works, so the refusals above are the checks' doing."""
    CASES[name].call(z, getattr(z, CASES[name].rightful))


def test_another_organisations_administrator_is_refused(z, mallory):
    for name in (
        "accounts.services.user_change_status",
        "groups.services.group_delete",
        "rights.services.profile_delete",
        "assessments.services.questionnaire_delete",
        "assessments.services.answer_save",
        "audit.services.audit_trail_export_record",
        "flows.jobs.bulk_job_start",
        "flows.jobs.group_invitations_start",
        "flows.jobs.bulk_undo_start",
        "accounts.services.users_set_language",
    ):
        _refused(name, z, mallory)


# actor=None is the system: only tasks, commands and the system steps below pass it -----------------

# (module, function) that pass actor=None to a checked service, and why.
SYSTEM_CALLERS = {
    ("accounts.services", "organization_create"): "the first administrator of a new organisation: nobody to act",
}


def system_calls():
    """{(module, function): service} of every call that passes `actor=None` to a checked service."""
    checked = {name.rsplit(".", 1)[1] for name in CASES}
    found = {}

    def visit(node, module, function):
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if isinstance(child, ast.Call):
                called = child.func.attr if isinstance(child.func, ast.Attribute) else getattr(child.func, "id", "")
                none = any(
                    k.arg == "actor" and isinstance(k.value, ast.Constant) and k.value.value is None
                    for k in child.keywords
                )
                if called in checked and none:
                    found[module, inner] = called
            visit(child, module, inner)

    for module, tree in product_modules():
        visit(tree, module, None)
    return found


def test_only_tasks_commands_and_system_steps_act_as_the_system():
    offenders = sorted(
        f"{module}:{function} → {service}"
        for (module, function), service in system_calls().items()
        if not (module.endswith(".tasks") or ".management.commands." in module)
        and (module, function) not in SYSTEM_CALLERS
    )
    assert not offenders, (
        f"actor=None (the system) passed outside a task or a command: {offenders}. Pass the person who acts; a "
        "command acting for a person takes --actor."
    )


def test_tasks_and_commands_make_no_request():
    """Tasks and commands pass their actor (or the system) to what they call: no request-like object
    is made up for them, whose missing parts (a session, a client address) the code would trust."""
    offenders = []
    for module, tree in product_modules():
        if module.startswith("web."):
            continue  # the pages have real requests
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            keywords = {keyword.arg for keyword in node.keywords}
            if called in ("SimpleNamespace", "HttpRequest", "RequestFactory") or "request" in keywords:
                offenders.append(f"{module}:{node.lineno} {called}")
    assert not offenders, offenders
