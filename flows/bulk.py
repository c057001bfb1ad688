"""Bulk actions on people: a small registry the users list offers and one view runs.

Adding an action is one `register(BulkAction(...))` call with a handler
`handler(*, users, actor, params) -> BulkOutcome` that changes each user on its own (fully or not
at all) and says what happened to whom. For example, deactivating:

    register(BulkAction(
        name="deactivate", label=_("Deactivate"), confirm=True,
        handler=status_handler(User.Status.INACTIVE, done=_("%(n)s deactivated")),
    ))
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.errors import LastAdministrator
from accounts.models import User
from accounts.services import user_change_status
from experquiz.errors import DomainError
from rights.names import Right

Status = User.Status
# Each user goes through the transition service in its own transaction (~8 ms each on PostgreSQL):
# up to SYNC_MAX users are changed within the request, more by a Celery worker while the page shows
# the progress, up to MAX_USERS.
SYNC_MAX = 200
MAX_USERS = 100_000
CHUNK = 100
NAMES_SHOWN = 5


@dataclass
class BulkOutcome:
    """What a bulk action did: a sentence for the users changed and one per reason for skipping."""

    done_message: str
    done: list = field(default_factory=list)
    skipped: dict = field(default_factory=dict)  # reason → [users]
    link: str = ""  # where to follow what the action started (an invitation batch), if anywhere

    def skip(self, reason: str, user) -> None:
        self.skipped.setdefault(reason, []).append(user)

    def summary(self) -> str:
        """'40 deactivated; 3 skipped: already inactive — Ann B., Bob C., Carl D.'"""
        parts = [self.done_message % {"n": len(self.done)}]
        for reason, users in self.skipped.items():
            names = ", ".join(user.short_name for user in users[:NAMES_SHOWN])
            if len(users) > NAMES_SHOWN:
                names += ", " + _("and %(n)s more") % {"n": len(users) - NAMES_SHOWN}
            parts.append(
                ngettext("%(n)s skipped: %(reason)s — %(names)s", "%(n)s skipped: %(reason)s — %(names)s", len(users))
                % {"n": len(users), "reason": reason, "names": names}
            )
        text = "; ".join(parts)
        return text if text.endswith(".") else text + "."

    def merge(self, other: "BulkOutcome") -> None:
        self.done += other.done
        self.link = self.link or other.link
        for reason, users in other.skipped.items():
            self.skipped.setdefault(reason, []).extend(users)

    @property
    def level(self) -> str:
        if not self.skipped:
            return "success"
        return "warning" if self.done else "error"


@dataclass(frozen=True)
class BulkAction:
    name: str
    label: str
    handler: Callable[..., BulkOutcome]
    confirm: bool = False
    right: str = Right.MANAGE_USERS
    needs_group: bool = False


REGISTRY: dict[str, BulkAction] = {}


def run(action: BulkAction, *, users, actor, params, progress=None) -> BulkOutcome:
    """Run `action` on the `users` queryset in chunks (constant memory), reporting progress."""
    outcome = None
    done = 0
    pks = list(users.values_list("pk", flat=True))
    for start in range(0, len(pks), CHUNK):
        chunk = list(users.model.objects.filter(pk__in=pks[start : start + CHUNK]).order_by(*users.query.order_by))
        part = action.handler(users=chunk, actor=actor, params=params)
        if outcome is None:
            outcome = part
        else:
            outcome.merge(part)
        done += len(chunk)
        if progress:
            progress(done)
    return outcome or action.handler(users=[], actor=actor, params=params)


def register(action: BulkAction) -> BulkAction:
    REGISTRY[action.name] = action
    return action


def actions_for(actor) -> list[BulkAction]:
    from rights.selectors import actor_has_right

    return [action for action in REGISTRY.values() if actor_has_right(actor, action.right)]


def _skip_reason(user, to) -> str:
    if user.status == to:
        return _("already %(status)s") % {"status": user.get_status_display().lower()}
    return _("currently %(status)s") % {"status": user.get_status_display().lower()}


def status_handler(to, *, done, sources=None):
    """A handler moving each user from one of `sources` (default: any allowed) to `to`, one by one,
    through the one transition service. Not to `invited`: only sending an invitation invites."""
    if to == Status.INVITED:
        raise ValueError("Invited is reached by sending invitations (the 'invite' action), not by a status change.")

    def handler(*, users, actor, params) -> BulkOutcome:
        outcome = BulkOutcome(done_message=str(done))
        for user in users:
            if not user.can_become(to) or (sources is not None and user.status not in sources):
                outcome.skip(_skip_reason(user, to), user)
                continue
            try:
                user_change_status(user=user, to=to, actor=actor, reason=_("bulk action"))
            except LastAdministrator:
                outcome.skip(_("the last active administrator must stay active"), user)
            except DomainError as error:
                outcome.skip(error.message, user)
            else:
                outcome.done.append(user)
        return outcome

    return handler


def send_invitations(*, users, actor, params) -> BulkOutcome:
    """Account invitations to the created and invited users; one batch however many chunks."""
    from django.urls import reverse

    from invitations.services.account import invitations_send

    outcome = BulkOutcome(done_message=_("%(n)s invited"))
    if not users:
        return outcome
    # `run` hands every chunk the same params: the first chunk's batch is reused by the next ones.
    result = invitations_send(
        organization=actor.organization,
        users=users,
        actor=actor,
        label=_("Invitations from the users list"),
        batch=params.get("batch"),
    )
    if result.batch is not None:
        params["batch"] = result.batch
        outcome.link = reverse("invitations:batch", args=[result.batch.pk])
    invited = set(result.invited)
    outcome.done = [user for user in users if user.pk in invited]
    for user, reason in result.skipped:
        outcome.skip(reason, user)
    return outcome


def _escaped(value) -> str:
    # The done message is %-formatted once more with the count: a "%" in a group name must survive.
    return str(value).replace("%", "%%")


def add_to_group(*, users, actor, params) -> BulkOutcome:
    from groups.services import group_add_members

    group = params["group"]
    outcome = BulkOutcome(done_message=_("%%(n)s added to %(group)s") % {"group": _escaped(group)})
    members = set(group.memberships.filter(user__in=users).values_list("user_id", flat=True))
    new = []
    for user in users:
        if user.pk in members:
            outcome.skip(_("already in %(group)s") % {"group": group}, user)
        else:
            new.append(user)
    group_add_members(group=group, users=new, actor=actor)
    outcome.done = new
    return outcome


def remove_from_group(*, users, actor, params) -> BulkOutcome:
    from groups.services import group_remove_members

    group = params["group"]
    outcome = BulkOutcome(done_message=_("%%(n)s removed from %(group)s") % {"group": _escaped(group)})
    members = set(group.memberships.filter(user__in=users).values_list("user_id", flat=True))
    leaving = []
    for user in users:
        if user.pk in members:
            leaving.append(user)
        else:
            outcome.skip(_("not in %(group)s") % {"group": group}, user)
    group_remove_members(group=group, users=leaving, actor=actor)
    outcome.done = leaving
    return outcome


def activate_with_temporary_password(*, users, actor, params) -> BulkOutcome:
    """Activate created and invited users, each sent a temporary password so they can log in."""
    from invitations.services.account import user_activate_with_temporary_password

    outcome = BulkOutcome(done_message=_("%(n)s activated, each sent a temporary password"))
    for user in users:
        if user.status not in (Status.CREATED, Status.INVITED):
            outcome.skip(_skip_reason(user, Status.ACTIVE), user)
            continue
        try:
            user_activate_with_temporary_password(user=user, actor=actor)
        except DomainError as error:
            outcome.skip(error.message, user)
        else:
            outcome.done.append(user)
    return outcome


register(BulkAction("activate", gettext_lazy("Activate with a temporary password"), activate_with_temporary_password))
register(
    BulkAction(
        "deactivate",
        gettext_lazy("Deactivate"),
        status_handler(Status.INACTIVE, done=gettext_lazy("%(n)s deactivated")),
        confirm=True,
    )
)
register(
    BulkAction(
        "reactivate",
        gettext_lazy("Reactivate"),
        status_handler(Status.ACTIVE, done=gettext_lazy("%(n)s reactivated"), sources={Status.INACTIVE}),
    )
)
register(
    BulkAction(
        "delete",
        gettext_lazy("Delete"),
        status_handler(Status.DELETED, done=gettext_lazy("%(n)s deleted")),
        confirm=True,
    )
)
register(
    BulkAction("restore", gettext_lazy("Restore"), status_handler(Status.INACTIVE, done=gettext_lazy("%(n)s restored")))
)
register(BulkAction("invite", gettext_lazy("Send invitations"), send_invitations, right=Right.INVITE))
register(BulkAction("add_to_group", gettext_lazy("Add to group"), add_to_group, needs_group=True))
register(
    BulkAction(
        "remove_from_group", gettext_lazy("Remove from group"), remove_from_group, confirm=True, needs_group=True
    )
)
