"""Assessment invitations (DESIGN §8): inviting a mixed selection of people to a questionnaire, within
an opening window, adding people later and removing someone who has not started.

Who may: the `invite` right, over each person (people out of scope are skipped without being named,
`flows.assessment_people`), to a questionnaire of `assessments.selectors.questionnaires_invitable_by`:
a published one they manage, or one shown to people they may invite (a private questionnaire only by
those who manage it). New contacts (unknown pasted addresses) are added by organisation-wide
inviters only, since contacts belong to no group.

The messages are `kind=assessment` invitations of the assignment's batch, sent by the outbox in
packets of INVITATIONS_PACKET_SIZE in the order of the people's names, each packet labelled after its
first and last person; they go at once, or at `send_at` (N minutes before the opening, per
AssessmentSettings): until then no task claims them, and the sweeper queues them when the time comes.
"""

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Channel, Contact, Organization, User
from accounts.search import search_text_for
from assessments.errors import NotAllowed
from assessments.models import AssessmentSettings, Assignee, Assignment, Questionnaire
from assessments.selectors import questionnaires_invitable_by
from audit.models import Action
from audit.services import audit_event, audit_record, audit_record_many
from experquiz import authorization
from experquiz.bulk_insert import insert_many
from experquiz.errors import DomainError, InvalidFields
from invitations.models import Invitation, InvitationBatch
from invitations.services.outbox import invitations_enqueue
from rights.names import Right
from rights.selectors import contacts_in_scope, users_in_scope

from .assessment_people import InvitationSummary, Selection, packets_of, resolve, sort_key

__all__ = [
    "InvitationSummary",
    "Selection",
    "assessment_invitation_preview",
    "assessment_invite",
    "assignment_add_people",
    "assignment_remove_person",
]

Kind = Invitation.Kind
Delivery = Invitation.Delivery
# Furthest a window may open ahead: a typo in a year is refused rather than sent next decade.
MAX_OPENS_AHEAD = timedelta(days=366)


def _settings(organization_id) -> AssessmentSettings:
    settings_row, _created = AssessmentSettings.objects.get_or_create(organization_id=organization_id)
    return settings_row


def _require_invitable(actor, questionnaire: Questionnaire) -> None:
    """The actor holds the invite right and may invite to this questionnaire (published, and theirs or
    shown to people they may invite)."""
    if actor is None:
        if not questionnaire.is_published:
            raise DomainError(_("Publish the questionnaire before inviting people to it."))
        return
    authorization.require_right(actor, Right.INVITE, organization_id=questionnaire.organization_id)
    if not questionnaires_invitable_by(actor).filter(pk=questionnaire.pk).exists():
        if not questionnaire.is_published:
            raise DomainError(_("Publish the questionnaire before inviting people to it."))
        raise NotAllowed(_("You may not invite people to this questionnaire."))


def _aware(value):
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value)
    return value


def _window(*, organization_id, opens_at=None, closes_at=None, now=None) -> tuple[datetime, datetime]:
    """The window as given, or from now for the organisation's default length; refused with the field
    at fault when it closes before it opens, is already over, or opens too far ahead."""
    now = now or timezone.now()
    opens_at = _aware(opens_at) or now
    if closes_at is None:
        closes_at = opens_at + timedelta(hours=_settings(organization_id).default_window_hours)
    closes_at = _aware(closes_at)
    if closes_at <= opens_at:
        raise InvalidFields({"closes_at": [_("The window must close after it opens.")]})
    if closes_at <= now:
        raise InvalidFields({"closes_at": [_("The closing time is already past: choose a later one.")]})
    if opens_at > now + MAX_OPENS_AHEAD:
        raise InvalidFields({"opens_at": [_("The window may open at most a year from now.")]})
    return opens_at, closes_at


def _send_time(*, organization_id, opens_at, now) -> datetime:
    """When the messages go: now, or N minutes before the opening (never before now)."""
    minutes = _settings(organization_id).send_minutes_before_opening
    if not minutes:
        return now
    return max(now, opens_at - timedelta(minutes=minutes))


def assessment_invitation_preview(
    *, actor: User | None, questionnaire: Questionnaire, selection: Selection, assignment: Assignment | None = None
) -> InvitationSummary:
    """What inviting `selection` would do (to a new invitation, or added to `assignment`); writes nothing."""
    _require_invitable(actor, questionnaire)
    return resolve(organization=questionnaire.organization, actor=actor, selection=selection, assignment=assignment)


def _insert_contacts(*, organization: Organization, actor, addresses: list[str]) -> list[int]:
    """Add a contact for each address no contact has; the ids of those this call added.

    Two administrators pasting the same address at once add one contact: the insert skips a row that
    the organisation's unique addresses refuse (the second insert waits for the first to commit, then
    skips), and the caller reads the contacts back by address. Only the rows added here are returned,
    so each creation is recorded once, by whoever made it."""
    now = timezone.now()
    fields = [f for f in Contact._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    added = []
    for start in range(0, len(addresses), 1000):
        rows, params = [], []
        for address in addresses[start : start + 1000]:
            email, mobile = (address, "") if "@" in address else ("", address)
            contact = Contact(
                organization=organization,
                email=email,
                mobile=mobile,
                language=organization.language,
                created_by=actor,
                created_at=now,
                search_text=search_text_for(email=email, mobile=mobile),
            )
            rows.append("(" + ", ".join(["%s"] * len(fields)) + ")")
            params += [f.get_db_prep_save(getattr(contact, f.attname), connection) for f in fields]
        table = connection.ops.quote_name(Contact._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                # Names from the model's metadata and placeholders only: every value is a parameter.
                f"INSERT INTO {table} ({columns}) VALUES {', '.join(rows)} ON CONFLICT DO NOTHING RETURNING id",  # noqa: S608
                params,
            )
            added += [row[0] for row in cursor.fetchall()]
    return added


def _new_contacts(*, organization, actor, addresses: list[str]) -> list[Contact]:
    """The contacts of `addresses`, adding those that do not exist (recorded as created)."""
    if not addresses:
        return []
    added = set(_insert_contacts(organization=organization, actor=actor, addresses=addresses))
    emails = [address for address in addresses if "@" in address]
    mobiles = [address for address in addresses if "@" not in address]
    contacts = list(
        Contact.objects.filter(organization=organization, converted_to__isnull=True).filter(
            Q(email__in=emails) | Q(mobile__in=mobiles)
        )
    )
    audit_record_many(
        audit_event(
            organization=organization,
            actor=actor,
            action=Action.CONTACT_CREATED,
            target=contact,
            after={"email": contact.email, "mobile": contact.mobile, "language": contact.language},
        )
        for contact in contacts
        if contact.pk in added
    )
    return contacts


def _message_rows(*, assignment: Assignment, people: list, actor, now, is_reminder=False) -> list[dict]:
    """One message per person (a row's values), in name order, each with its packet's label."""
    due_later = assignment.send_at > now
    common = {
        "organization_id": assignment.organization_id,
        "kind": str(Kind.ASSESSMENT),
        "is_reminder": is_reminder,
        "expires_at": assignment.closes_at,
        "batch_id": assignment.batch_id,
        "created_by_id": getattr(actor, "pk", None),
        "created_at": now,
        # Waiting for its time: no task is queued, and the sweeper takes it then.
        "not_before": assignment.send_at if due_later else None,
        "enqueued_at": None if due_later else now,
    }
    rows = []
    for label, packet in packets_of(sorted(people, key=sort_key)):
        for person in packet:
            if isinstance(person, User):
                channel = person.preferred_channel
                address = person.email if channel == Channel.EMAIL else person.mobile
                who = {"user_id": person.pk, "contact_id": None}
            else:
                channel = Channel.EMAIL if person.email else Channel.SMS
                address = person.email or person.mobile
                who = {"user_id": None, "contact_id": person.pk}
            rows.append({**common, **who, "channel": str(channel), "address": address, "packet": label})
    return rows


def _send(*, assignment: Assignment, rows: list[dict]) -> int:
    """Write the messages; those due now are queued once the transaction commits."""
    if not rows:
        return 0
    written = insert_many(Invitation, [Invitation(**row) for row in rows])
    if rows[0]["not_before"] is None:
        invitations_enqueue(invitation_ids=[invitation.pk for invitation in written])
    return len(rows)


def _place(*, assignment: Assignment, summary: InvitationSummary, contacts: list, actor, now) -> list:
    """Give each invited person their place (or back, if they were removed); the people placed."""
    users = summary.invited_users
    removed = Assignee.objects.filter(assignment=assignment, removed_at__isnull=False)
    back_users = set(removed.filter(user__isnull=False).values_list("user_id", flat=True))
    back_contacts = set(removed.filter(contact__isnull=False).values_list("contact_id", flat=True))
    back_users &= {user.pk for user in users}
    back_contacts &= {contact.pk for contact in contacts}
    if back_users or back_contacts:
        removed.filter(Q(user__in=back_users) | Q(contact__in=back_contacts)).update(
            removed_at=None, added_at=now, added_by=actor
        )
    common = {
        "organization_id": assignment.organization_id,
        "assignment_id": assignment.pk,
        "added_at": now,
        "added_by_id": getattr(actor, "pk", None),
        "removed_at": None,
        "opened_at": None,
    }
    insert_many(
        Assignee,
        [Assignee(**common, user_id=user.pk, contact_id=None) for user in users if user.pk not in back_users]
        + [Assignee(**common, user_id=None, contact_id=c.pk) for c in contacts if c.pk not in back_contacts],
    )
    return [*users, *contacts]


def _place_and_send(*, assignment: Assignment, summary: InvitationSummary, actor, now) -> None:
    """Create the new contacts of `summary`, give every person invited a place, and write their messages."""
    contacts = summary.invited_contacts + _new_contacts(
        organization=assignment.questionnaire.organization, actor=actor, addresses=summary.new_contact_addresses
    )
    people = _place(assignment=assignment, summary=summary, contacts=contacts, actor=actor, now=now)
    _send(assignment=assignment, rows=_message_rows(assignment=assignment, people=people, actor=actor, now=now))


def _nobody(summary: InvitationSummary) -> DomainError:
    if summary.already_invited and not summary.skipped:
        return DomainError(_("Everyone chosen is already invited: nobody was added."))
    return DomainError(_("Nobody in this choice can be invited: nothing was sent."))


@transaction.atomic
def assessment_invite(
    *,
    actor: User | None,
    questionnaire: Questionnaire,
    selection: Selection,
    opens_at: datetime | None = None,
    closes_at: datetime | None = None,
) -> tuple[Assignment, InvitationSummary]:
    """Invite `selection` to `questionnaire` within a window (by default from now, for the
    organisation's default length); one batch of messages, sent now or before the opening."""
    _require_invitable(actor, questionnaire)
    organization = questionnaire.organization
    now = timezone.now()
    opens_at, closes_at = _window(organization_id=organization.pk, opens_at=opens_at, closes_at=closes_at, now=now)
    summary = resolve(organization=organization, actor=actor, selection=selection)
    if not summary.total:
        raise _nobody(summary)
    batch = InvitationBatch.objects.create(
        organization=organization,
        created_by=actor,
        label=_("Assessment: %(title)s") % {"title": questionnaire.title[:150]},
    )
    assignment = Assignment.objects.create(
        organization=organization,
        questionnaire=questionnaire,
        opens_at=opens_at,
        closes_at=closes_at,
        send_at=_send_time(organization_id=organization.pk, opens_at=opens_at, now=now),
        batch=batch,
        created_by=actor,
    )
    _place_and_send(assignment=assignment, summary=summary, actor=actor, now=now)
    audit_record(
        organization=organization,
        actor=actor,
        action=Action.ASSESSMENT_INVITED,
        target=assignment,
        label=questionnaire.title,
        after={
            "people": summary.total,
            "new contacts": len(summary.new_contact_addresses),
            "opens": opens_at.isoformat(),
            "closes": closes_at.isoformat(),
            "send at": assignment.send_at.isoformat(),
        },
    )
    return assignment, summary


@transaction.atomic
def assignment_add_people(*, actor: User | None, assignment: Assignment, selection: Selection) -> InvitationSummary:
    """Invite more people to `assignment` until it closes; those already in it are left as they are,
    and someone removed comes back (with a new message)."""
    assignment = (
        Assignment.objects.select_for_update().select_related("questionnaire__organization").get(pk=assignment.pk)
    )
    questionnaire = assignment.questionnaire
    _require_invitable(actor, questionnaire)
    now = timezone.now()
    if assignment.closes_at <= now:
        raise DomainError(_("This invitation has closed: nobody can be added any more."))
    organization = questionnaire.organization
    summary = resolve(organization=organization, actor=actor, selection=selection, assignment=assignment)
    if not summary.total:
        raise _nobody(summary)
    _place_and_send(assignment=assignment, summary=summary, actor=actor, now=now)
    audit_record(
        organization=organization,
        actor=actor,
        action=Action.ASSESSMENT_PEOPLE_ADDED,
        target=assignment,
        label=questionnaire.title,
        after={"people": summary.total, "new contacts": len(summary.new_contact_addresses)},
    )
    return summary


@transaction.atomic
def assignment_remove_person(*, actor: User | None, assignee: Assignee) -> None:
    """Take someone out of an invitation while they have not started; their link then says so, and a
    message not sent yet is not sent."""
    assignee = Assignee.objects.select_for_update().select_related("assignment__questionnaire").get(pk=assignee.pk)
    assignment = assignee.assignment
    if actor is not None:
        _require_invitable(actor, assignment.questionnaire)
        people = (
            users_in_scope(actor, Right.INVITE).filter(pk=assignee.user_id)
            if assignee.user_id
            else contacts_in_scope(actor, Right.INVITE).filter(pk=assignee.contact_id)
        )
        if not people.exists():
            raise NotAllowed(_("You may only act on the people in your scope."))
    if assignee.removed_at is not None:
        return
    if hasattr(assignee, "attempt"):
        raise DomainError(
            _("%(person)s has already started: they can no longer be removed.") % {"person": assignee.person}
        )
    now = timezone.now()
    assignee.removed_at = now
    assignee.save(update_fields=["removed_at"])
    Invitation.objects.filter(
        batch_id=assignment.batch_id,
        user_id=assignee.user_id,
        contact_id=assignee.contact_id,
        delivery=Delivery.PENDING,
        revoked_at__isnull=True,
    ).update(revoked_at=now)
    audit_record(
        organization=assignment.organization_id,
        actor=actor,
        action=Action.ASSESSMENT_PERSON_REMOVED,
        target=assignment,
        user=assignee.user_id,
        label=str(assignee.person),
    )
