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

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.errors import LastAdministrator
from accounts.models import User
from accounts.services import user_change_status
from experquiz.errors import DomainError
from rights.names import Right

Status = User.Status
# Each user goes through the services (~8 ms each on PostgreSQL): up to SYNC_MAX users are changed
# within the request, more by a Celery worker while the page shows the progress, up to MAX_USERS.
SYNC_MAX = 200
MAX_USERS = 100_000
# Users per transaction. A chunk commits whole or not at all, with the job's progress, so a job
# resumes exactly after its last chunk. A status change locks the organisation's row until the
# commit (the last-administrator rule), so a chunk of them stays short: others changing a status in
# the same organisation (someone accepting an invitation) wait for it.
CHUNK = 10
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
        return Tally().add(self).summary(self.done_message)

    def merge(self, other: "BulkOutcome") -> None:
        self.done += other.done
        self.link = self.link or other.link
        for reason, users in other.skipped.items():
            self.skipped.setdefault(reason, []).extend(users)

    @property
    def level(self) -> str:
        return Tally().add(self).level


@dataclass
class Tally:
    """What a bulk action did, in counts and the few names a summary shows: small enough to keep as
    JSON on a job's row and add to chunk by chunk, across the runs of a job resumed after a crash."""

    done: int = 0
    skipped: dict = field(default_factory=dict)  # reason → {"n": count, "names": the first NAMES_SHOWN}
    link: str = ""

    @classmethod
    def from_json(cls, data: dict) -> "Tally":
        return cls(done=data.get("done", 0), skipped=dict(data.get("skipped", {})), link=data.get("link", ""))

    def as_json(self) -> dict:
        return {"done": self.done, "skipped": self.skipped, "link": self.link}

    def add(self, outcome: BulkOutcome) -> "Tally":
        self.done += len(outcome.done)
        self.link = self.link or outcome.link
        for reason, users in outcome.skipped.items():
            entry = self.skipped.setdefault(str(reason), {"n": 0, "names": []})
            entry["n"] += len(users)
            entry["names"] = (entry["names"] + [user.short_name for user in users])[:NAMES_SHOWN]
        return self

    def summary(self, done_message) -> str:
        parts = [str(done_message) % {"n": self.done}]
        for reason, entry in self.skipped.items():
            n = entry["n"]
            names = ", ".join(entry["names"])
            if n > len(entry["names"]):
                names += ", " + _("and %(n)s more") % {"n": n - len(entry["names"])}
            parts.append(
                ngettext("%(n)s skipped: %(reason)s — %(names)s", "%(n)s skipped: %(reason)s — %(names)s", n)
                % {"n": n, "reason": reason, "names": names}
            )
        text = "; ".join(parts)
        return text if text.endswith(".") else text + "."

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


def run(action: BulkAction, *, users, actor, params, start_after=0, chunk_done=None) -> BulkOutcome:
    """Run `action` on the `users` queryset by increasing id, CHUNK users per transaction.

    `chunk_done(part, last_pk, count)` is called at the end of each chunk's transaction with that
    chunk's outcome: what it records (a job's progress) commits with the chunk's changes or not at
    all. A job stopped midway runs again with `start_after` the last id it recorded, and changes
    nobody twice. `params` may carry plain values from one chunk to the next (see send_invitations).
    """
    outcome = None
    pks = list(users.filter(pk__gt=start_after).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(pks), CHUNK):
        ids = pks[start : start + CHUNK]
        with transaction.atomic():
            chunk = list(users.model.objects.filter(pk__in=ids).order_by("pk"))
            part = action.handler(users=chunk, actor=actor, params=params)
            if chunk_done:
                chunk_done(part, ids[-1], len(chunk))
        if outcome is None:
            outcome = part
        else:
            outcome.merge(part)
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

    from invitations.models import InvitationBatch
    from invitations.services import invitations_send

    outcome = BulkOutcome(done_message=_("%(n)s invited"))
    if not users:
        return outcome
    # `run` hands every chunk the same params: the first chunk's batch is reused by the next ones,
    # and by a job's later run after a crash (its params are kept on the job's row).
    batch = None
    if params.get("batch_id"):
        batch = InvitationBatch.objects.for_org(actor.organization).filter(pk=params["batch_id"]).first()
    result = invitations_send(
        organization=actor.organization,
        users=users,
        actor=actor,
        label=_("Invitations from the users list"),
        batch=batch,
    )
    if result.batch is not None:
        params["batch_id"] = result.batch.pk
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
    from invitations.services import user_activate_with_temporary_password

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
