"""Invitation flows that span floors: inviting pasted addresses creates people, puts them in a
group of the inviter's scope and sends their invitations."""

import re
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from accounts.errors import LoginIdTaken
from accounts.identity import IdentityInvalid, email_clean, mobile_clean
from accounts.models import Organization, User
from accounts.services import user_create
from experquiz import authorization
from experquiz.authorization import NotAllowed
from experquiz.errors import DomainError
from groups.services import group_add_created_users
from invitations.services.account import MAX_PASTED_ADDRESSES, SendResult, invitations_send
from rights.names import Right
from rights.selectors import actor_scope


@dataclass
class PasteResult:
    send: SendResult | None = None
    created: list = field(default_factory=list)  # users
    known: list = field(default_factory=list)  # (address, existing user)
    invalid: list = field(default_factory=list)  # (text, reason)
    duplicates: int = 0


def split_addresses(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,;\n\r]+", text or "") if part.strip()]


def _check_paste(*, organization, actor, group) -> None:
    # Checked before anyone is created: without the right, nothing would be sent to the new users.
    if actor is not None and (actor.organization_id != organization.pk or not actor_scope(actor, Right.INVITE)):
        raise NotAllowed(_("You do not hold the right to invite: nothing was sent."))
    # A group-scoped inviter must put the people they create in one of their groups (DESIGN §6):
    # without one, the new users would be out of their own scope at once.
    if group is None and actor is not None and not actor_scope(actor, Right.INVITE).all_users:
        raise NotAllowed(_("Choose one of your groups."))
    if group is not None:
        authorization.require_groups(actor, Right.INVITE, [group])


def _read_paste(organization, text, result):
    """The pasted addresses read as identities: (wanted [((kind, value), as typed)], by_email, by_mobile),
    with what is not understood and repeats counted on `result`."""
    parts = split_addresses(text)
    if len(parts) > MAX_PASTED_ADDRESSES:
        raise DomainError(
            _("Paste at most %(max)d addresses at a time (%(count)d given).")
            % {"max": MAX_PASTED_ADDRESSES, "count": len(parts)}
        )
    seen = set()
    wanted = []  # (field, normalised, as typed)
    for part in parts:
        # Read like a typed identity (accounts.identity); a paste says only which kind it took it for.
        if "@" in part:
            try:
                key = ("email", email_clean(part))
            except IdentityInvalid:
                result.invalid.append((part, _("not a valid email address")))
                continue
        else:
            try:
                key = ("mobile", mobile_clean(organization, part))
            except IdentityInvalid:
                result.invalid.append((part, _("neither an email address nor a valid mobile number")))
                continue
        if key in seen:
            result.duplicates += 1
            continue
        seen.add(key)
        wanted.append((key, part))
    emails = [value for (kind, value), _part in wanted if kind == "email"]
    mobiles = [value for (kind, value), _part in wanted if kind == "mobile"]
    existing = User.objects.for_org(organization).filter(Q(email__in=emails) | Q(mobile__in=mobiles))
    by_email = {user.email: user for user in existing if user.email}
    by_mobile = {user.mobile: user for user in existing if user.mobile}
    return wanted, by_email, by_mobile


def invitations_paste_preview(*, organization: Organization, actor: User | None, text: str, group=None):
    """What inviting the pasted text would do, writing nothing: (new [(kind, value)], PasteResult with
    the known addresses, what is not understood and the repeats)."""
    _check_paste(organization=organization, actor=actor, group=group)
    result = PasteResult()
    wanted, by_email, by_mobile = _read_paste(organization, text, result)
    new = []
    for (kind, value), part in wanted:
        known = by_email.get(value) if kind == "email" else by_mobile.get(value)
        if known is not None:
            result.known.append((part, known))
        else:
            new.append((kind, value))
    return new, result


@transaction.atomic
def invitations_invite_addresses(
    *, organization: Organization, actor: User | None, text: str, user_type=None, group=None
) -> PasteResult:
    """Invite pasted emails and mobiles: new addresses become invited users, known ones are reported."""
    _check_paste(organization=organization, actor=actor, group=group)
    result = PasteResult()
    wanted, by_email, by_mobile = _read_paste(organization, text, result)
    for (kind, value), part in wanted:
        known = by_email.get(value) if kind == "email" else by_mobile.get(value)
        if known is not None:
            result.known.append((part, known))
            continue
        try:
            created = user_create(
                organization=organization,
                actor=actor,
                email=value if kind == "email" else "",
                mobile=value if kind == "mobile" else "",
                user_type=user_type,
                groups=[group] if group is not None else [],
                right=Right.INVITE,
            )
        except LoginIdTaken as taken:
            # Someone added this address since it was looked up above (the same list pasted twice at
            # once): it is a known address like the others.
            result.known.append((part, taken.existing))
            continue
        result.created.append(created)
    if group is not None and result.created:
        # The paste page offers the groups of the inviter's invite right.
        group_add_created_users(group=group, users=result.created, actor=actor, right=Right.INVITE)
    if result.created:
        result.send = invitations_send(
            organization=organization,
            users=User.objects.filter(pk__in=[user.pk for user in result.created]),
            actor=actor,
            label=_("Invitations to %(count)d pasted addresses") % {"count": len(result.created)},
        )
    return result
