"""Reads on invitations that depend on who asks."""

import functools
from dataclasses import dataclass, field

from django.db.models import Count, Max, Min, Q
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.identity import Channel
from accounts.models import User
from experquiz.sql_rows import Statement, Table
from rights.names import Right
from rights.selectors import users_in_scope

from .models import Invitation, InvitationBatch
from .tokens import hash_token


def invitations_visible_to(actor):
    """Invitations of people `actor` may invite; contacts' invitations only for administrators."""
    if actor is None or not actor.is_authenticated or actor.organization_id is None:
        return Invitation.objects.none()
    people = users_in_scope(actor, Right.INVITE)
    scope = Q(user__in=people)
    if actor.is_administrator:
        scope |= Q(contact__isnull=False)
    return Invitation.objects.for_org(actor.organization).filter(scope)


def batches_visible_to(actor):
    if actor is None or not actor.is_authenticated or actor.organization_id is None:
        return InvitationBatch.objects.none()
    batches = InvitationBatch.objects.for_org(actor.organization)
    if not actor.is_administrator:
        batches = batches.filter(created_by=actor)
    return batches


def batches_with_counts(batches):
    return batches.annotate(
        total=Count("invitations"),
        pending=Count("invitations", filter=Q(invitations__delivery=Invitation.Delivery.PENDING)),
        sent=Count("invitations", filter=Q(invitations__delivery=Invitation.Delivery.SENT)),
        failed=Count("invitations", filter=Q(invitations__delivery=Invitation.Delivery.FAILED)),
        accepted=Count("invitations", filter=Q(invitations__used_at__isnull=False)),
    )


def batch_progress(batch) -> dict:
    counts = dict(batch.invitations.values_list("delivery").annotate(n=Count("pk")).order_by())
    total = sum(counts.values())
    done = counts.get("sent", 0) + counts.get("failed", 0)
    return {
        "total": total,
        "pending": counts.get("pending", 0),
        "sent": counts.get("sent", 0),
        "failed": counts.get("failed", 0),
        "percent": round(100 * done / total) if total else 100,
        "done": done == total,
    }


def batch_packets(batch) -> list[dict]:
    """The packets of a batch sent in named packets (an assessment invitation's): label, counts and
    when the messages go, in sending order; empty for a batch without packet labels."""
    rows = (
        batch.invitations.exclude(packet="")
        .values("packet", "is_reminder")
        .annotate(
            first=Min("pk"),
            total=Count("pk"),
            sent=Count("pk", filter=Q(delivery=Invitation.Delivery.SENT)),
            failed=Count("pk", filter=Q(delivery=Invitation.Delivery.FAILED)),
            not_before=Max("not_before"),
        )
        .order_by("first")
    )
    return [{**row, "pending": row["total"] - row["sent"] - row["failed"]} for row in rows]


@functools.cache
def _invitation_by_token_sql(kinds: int) -> tuple[Table, Table, Statement]:
    invitation, user = Table(Invitation, "i"), Table(User, "u")
    token_hash = invitation.column("token_hash")
    # Only names from the models go into the text; the values are parameters. The unique index on the
    # hash leaves empty ones out: saying so lets the prepared statement's generic plan use it.
    sql = (
        f"SELECT {invitation.columns}, {user.columns} FROM {invitation.source}"  # noqa: S608
        f" LEFT JOIN {user.source} ON {user.column('id')} = {invitation.column('user')}"
        f" WHERE {invitation.column('organization')} = %s AND {token_hash} = %s AND {token_hash} <> ''"
        f" AND {invitation.column('kind')} IN ({', '.join(['%s'] * kinds)})"
    )
    return invitation, user, Statement(f"experquiz_invitation_by_token_{kinds}", sql)


def invitation_by_token(organization, token: str, kinds) -> Invitation | None:
    """The invitation of `organization` whose link carries `token`, with its user; another tenant's
    token is unknown.

    Every link page reads it: one statement, written once per process (experquiz.sql_rows), where
    the queryset cost two milliseconds of CPU to compile each time.
    """
    if organization is None:
        raise ValueError("A tenant query needs an organisation.")
    if not token or len(token) > 100:
        return None
    kinds = list(kinds)
    invitation, user, statement = _invitation_by_token_sql(len(kinds))
    row = statement.fetchone([organization.pk, hash_token(token), *kinds])
    if row is None:
        return None
    found = invitation.build(row)
    found.user = user.build(row, len(invitation))
    # The organisation asked for is the invitation's (the statement says so): no join to load it again.
    found.organization = organization
    return found


def temporary_password_pending(user) -> bool:
    """Whether a temporary password is on its way to `user`: issued, not yet sent nor revoked."""
    return (
        Invitation.objects.filter(organization_id=user.organization_id, user_id=user.pk)
        .filter(kind=Invitation.Kind.TEMPORARY_PASSWORD)
        .outstanding()
        .exists()
    )


def latest_account_invitation(user) -> Invitation | None:
    """The most recent account invitation of `user` (for the user's page)."""
    invitations = Invitation.objects.filter(organization_id=user.organization_id, user=user)
    return invitations.filter(kind=Invitation.Kind.ACCOUNT).first()


@dataclass
class SendPreview:
    """What sending account invitations to some people would do, before anything is sent."""

    by_email: int = 0
    by_sms: int = 0
    skipped: list = field(default_factory=list)  # (reason, count)

    @property
    def total(self) -> int:
        return self.by_email + self.by_sms

    def summary(self) -> str:
        """ "Send 12 invitations: 10 by e-mail, 2 by SMS; 3 skipped: already active." """
        text = ngettext(
            "Send %(n)d invitation: %(email)d by e-mail, %(sms)d by SMS",
            "Send %(n)d invitations: %(email)d by e-mail, %(sms)d by SMS",
            self.total,
        ) % {"n": self.total, "email": self.by_email, "sms": self.by_sms}
        for reason, count in self.skipped:
            text += "; " + ngettext("%(n)d skipped: %(reason)s", "%(n)d skipped: %(reason)s", count) % {
                "n": count,
                "reason": reason,
            }
        return text + "."


def account_invitations_preview(users) -> SendPreview:
    """The invitations `invitations_send` would write for `users` (a queryset the caller scoped):
    those awaiting one, by their preferred channel; the others skipped by status."""
    preview = SendPreview()
    rows = users.order_by().values("status", "preferred_channel").annotate(n=Count("pk"))
    skipped = {}
    for row in rows:
        if row["status"] in User.AWAITING_INVITATION:
            if row["preferred_channel"] == Channel.EMAIL:
                preview.by_email += row["n"]
            else:
                preview.by_sms += row["n"]
        else:
            skipped[row["status"]] = skipped.get(row["status"], 0) + row["n"]
    for status, count in sorted(skipped.items()):
        label = User.Status(status).label
        preview.skipped.append((_("already %(status)s") % {"status": str(label).lower()}, count))
    return preview
