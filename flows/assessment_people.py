"""Who an assessment invitation reaches: a mixed selection (groups, users, contacts, pasted emails and
mobiles) read into the people to invite, once each, with what was left out and why. Reads only: the
services in `flows.assessments` write what this plans.

The arithmetic the summary shows: `group_total` is the sum of the chosen groups' sizes, `picked` the
people chosen one by one (users, contacts, and each pasted address read as one); someone reached
twice (a user in two groups, a group member also picked, an address pasted twice or of someone
picked) is counted once in `total`, the number of people invited. Only active users are invited;
people outside the actor's right to invite are skipped without being named.
"""

import unicodedata
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, Q
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.identity import IdentityInvalid, email_clean, mobile_clean
from accounts.models import Contact, User
from assessments.models import Assignee
from experquiz import authorization, phones
from experquiz.errors import DomainError
from flows.invitations import split_addresses
from groups.models import Membership, UserGroup
from rights.names import Right
from rights.selectors import actor_scope, contacts_in_scope, users_in_scope

Status = User.Status
# A paste larger than this is refused: a bigger list is an import, not a paste.
MAX_PASTED_ADDRESSES = 10_000
USER_FIELDS = (
    "pk",
    "organization_id",
    "first_name",
    "last_name",
    "email",
    "mobile",
    "status",
    "preferred_channel",
    "language",
)


@dataclass(frozen=True)
class Selection:
    """What an administrator picked: groups, users and contacts by id, and pasted addresses."""

    group_ids: tuple[int, ...] = ()
    user_ids: tuple[int, ...] = ()
    contact_ids: tuple[int, ...] = ()
    addresses: str = ""


@dataclass
class InvitationSummary:
    """What an invitation does (or would do) with a selection; see the module's docstring."""

    group_sizes: list = field(default_factory=list)  # (group, number of members)
    group_total: int = 0
    picked: int = 0
    invited_users: list = field(default_factory=list)
    invited_contacts: list = field(default_factory=list)
    new_contact_addresses: list = field(default_factory=list)  # as stored (email, or mobile in E.164)
    already_invited: list = field(default_factory=list)  # people already in the invitation (adding people)
    skipped: list = field(default_factory=list)  # (label, reason)
    packets: list = field(default_factory=list)  # labels, in sending order ("Ab–Co")
    duplicates: int = 0  # choices that named someone already reached
    total: int = 0  # people invited

    @property
    def people(self) -> list:
        """Everyone invited, new contacts as their address, in sending (name) order."""
        return sorted([*self.invited_users, *self.invited_contacts, *self.new_contact_addresses], key=sort_key)


def _folded(text: str) -> str:
    text = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in text if not unicodedata.combining(c)).casefold()


def _name_of(person) -> str:
    if isinstance(person, str):
        return person
    return (person.last_name or person.first_name or person.email or person.mobile or "").strip()


def sort_key(person) -> tuple:
    """People in the order of their names (last name, then first name), an address standing in for a
    person without a name."""
    if isinstance(person, str):
        return (_folded(person), "", 0)
    return (_folded(_name_of(person)), _folded(person.first_name), person.pk)


def packet_label(first, last) -> str:
    """'Ab–Co': the first two letters of the names of a packet's first and last person."""
    start, end = (_name_of(person)[:2].capitalize() for person in (first, last))
    return start if start == end else f"{start}–{end}"


def packets_of(people: list) -> list[tuple[str, list]]:
    """`people` (in name order) cut in packets of INVITATIONS_PACKET_SIZE, each with its label."""
    size = settings.INVITATIONS_PACKET_SIZE
    return [
        (packet_label(people[start], people[min(start + size, len(people)) - 1]), people[start : start + size])
        for start in range(0, len(people), size)
    ]


def person_label(person) -> str:
    if isinstance(person, User):
        return str(person.full_name or person.email or phones.display(person.mobile))
    return str(person)


@dataclass
class _Pasted:
    emails: dict = field(default_factory=dict)  # normalised → as typed
    mobiles: dict = field(default_factory=dict)


def _read_paste(organization, text: str, summary: InvitationSummary) -> _Pasted:
    parts = split_addresses(text)
    if len(parts) > MAX_PASTED_ADDRESSES:
        raise DomainError(
            _("Paste at most %(max)d addresses at a time (%(count)d given).")
            % {"max": MAX_PASTED_ADDRESSES, "count": len(parts)}
        )
    pasted = _Pasted()
    for part in parts:
        try:
            if "@" in part:
                kind, value = pasted.emails, email_clean(part)
            else:
                kind, value = pasted.mobiles, mobile_clean(organization, part)
        except IdentityInvalid:
            reason = (
                _("not a valid email address") if "@" in part else _("neither an email address nor a mobile number")
            )
            summary.skipped.append((part, reason))
            continue
        summary.picked += 1
        if value in kind:
            summary.duplicates += 1
            continue
        kind[value] = part
    return pasted


def _groups(organization, actor, group_ids, summary: InvitationSummary) -> list[int]:
    """The chosen groups with their sizes; the ids of their members."""
    ids = set(group_ids)
    groups = list(
        UserGroup.objects.filter(organization=organization, pk__in=ids)
        .annotate(size=Count("memberships"))
        .order_by("name")
    )
    if len(groups) != len(ids):
        raise DomainError(_("A chosen group no longer exists; choose the groups again."))
    if actor is not None:
        authorization.require_groups(actor, Right.INVITE, groups)
    summary.group_sizes = [(group, group.size) for group in groups]
    summary.group_total = sum(group.size for group in groups)
    return list(
        Membership.objects.filter(organization=organization, group_id__in=ids).values_list("user_id", flat=True)
    )


def resolve(*, organization, actor, selection: Selection, assignment=None) -> InvitationSummary:
    """Read `selection` into the people to invite (see the module's docstring). `assignment`: the
    invitation people are added to; those already in it are listed apart (removed ones come back)."""
    summary = InvitationSummary()
    member_ids = _groups(organization, actor, selection.group_ids, summary)
    picked_users = set(selection.user_ids)
    picked_contacts = set(selection.contact_ids)
    summary.picked += len(picked_users) + len(picked_contacts)
    pasted = _read_paste(organization, selection.addresses, summary)

    # Pasted addresses of users, then of contacts (a user wins: they are the person now); the rest is new.
    address_match = Q(email__in=list(pasted.emails)) | Q(mobile__in=list(pasted.mobiles))
    pasted_users = {}
    if pasted.emails or pasted.mobiles:
        for pk, email, mobile in (
            User.objects.filter(organization=organization).filter(address_match).values_list("pk", "email", "mobile")
        ):
            for value in (email, mobile):
                if value in pasted.emails or value in pasted.mobiles:
                    pasted_users[value] = pk
    pasted_contacts = {}
    left = {value for value in [*pasted.emails, *pasted.mobiles] if value not in pasted_users}
    if left:
        known = Contact.objects.filter(organization=organization).filter(Q(email__in=left) | Q(mobile__in=left))
        for pk, email, mobile, converted_to in known.values_list("pk", "email", "mobile", "converted_to_id"):
            for value in (email, mobile):
                if value in left:
                    # A contact who became a user is that user now.
                    (pasted_users if converted_to else pasted_contacts)[value] = converted_to or pk
    new_addresses = [value for value in [*pasted.emails, *pasted.mobiles] if value not in pasted_users]
    new_addresses = [value for value in new_addresses if value not in pasted_contacts]

    user_ids = set(member_ids) | picked_users | set(pasted_users.values())
    contact_ids = picked_contacts | set(pasted_contacts.values())
    reached = len(member_ids) + len(picked_users) + len(picked_contacts) + len(pasted_users) + len(pasted_contacts)
    summary.duplicates += reached - len(user_ids) - len(contact_ids)

    users = User.objects.filter(organization=organization, pk__in=user_ids)
    contacts = Contact.objects.filter(organization=organization, pk__in=contact_ids, converted_to__isnull=True)
    outside = 0
    if actor is not None:
        users = users.filter(pk__in=users_in_scope(actor, Right.INVITE).values("pk"))
        contacts = contacts.filter(pk__in=contacts_in_scope(actor, Right.INVITE).values("pk"))
        if not actor_scope(actor, Right.INVITE).all_users:
            # New contacts belong to no group: only an organisation-wide inviter adds them. Counted with
            # the people out of scope, so a paste does not tell which addresses someone already has.
            outside += len(new_addresses)
            new_addresses = []
    users = list(users.only(*USER_FIELDS).order_by())
    contacts = list(contacts.order_by())
    # Out of scope, or gone meanwhile (or of another organisation: ids from a forged form).
    outside += len(user_ids) + len(contact_ids) - len(users) - len(contacts)

    current_users, current_contacts = set(), set()
    if assignment is not None:
        current = Assignee.objects.current().filter(assignment=assignment)
        current_users = set(current.filter(user__isnull=False).values_list("user_id", flat=True))
        current_contacts = set(current.filter(contact__isnull=False).values_list("contact_id", flat=True))
    for user in sorted(users, key=sort_key):
        if user.status != Status.ACTIVE:
            reason = _("not active (%(status)s)") % {"status": user.get_status_display().lower()}
            summary.skipped.append((person_label(user), reason))
        elif user.pk in current_users:
            summary.already_invited.append(user)
        else:
            summary.invited_users.append(user)
    for contact in sorted(contacts, key=sort_key):
        if contact.pk in current_contacts:
            summary.already_invited.append(contact)
        else:
            summary.invited_contacts.append(contact)
    summary.new_contact_addresses = sorted(new_addresses, key=sort_key)
    if outside:
        summary.skipped.append(
            (
                ngettext("%(count)d person", "%(count)d people", outside) % {"count": outside},
                _("outside your right to invite"),
            )
        )
    people = summary.people
    summary.total = len(people)
    summary.packets = [label for label, _people in packets_of(people)]
    return summary
