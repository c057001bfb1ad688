"""Bulk actions on people: a small registry the users list offers and one view runs.

Adding an action is one `register(BulkAction(...))` call with a handler
`handler(*, users, actor, params) -> BulkOutcome` that changes each user on its own (fully or not
at all) and says what happened to whom. The status actions are not written here: they are the
administrators' moves of the lifecycle table (`User.LIFECYCLE`), registered from it with their
label, confirmation and summary (`transition_handler`), so a move added to the table is offered here
and on the user page at once.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.errors import LastAdministrator
from accounts.models import Transition, User
from accounts.services import user_change_status
from experquiz.authorization import NotAllowed
from experquiz.errors import DomainError
from rights.names import Right

from .people import user_status_action

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
# Sending invitations is set-based (accounts.services.users_mark_invited, one bulk insert) and locks no
# organisation: a chunk is one packet to deliver, its messages queued as soon as it commits.
INVITE_CHUNK = 200
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
    transition: Transition | None = None  # the lifecycle move it makes, for the status actions
    chunk: int = 0  # users per transaction; 0: CHUNK
    # An action started from elsewhere than the users list (not offered there): `select(actor=, group=)`
    # gives the users a job runs it on, instead of the list's filters.
    select: Callable | None = None

    @property
    def offered(self) -> bool:
        return self.select is None


REGISTRY: dict[str, BulkAction] = {}


def run(action: BulkAction, *, users, actor, params, start_after=0, chunk_done=None) -> BulkOutcome:
    """Run `action` on the `users` queryset by increasing id, CHUNK users per transaction.

    `chunk_done(part, last_pk, count)` is called at the end of each chunk's transaction with that
    chunk's outcome: what it records (a job's progress) commits with the chunk's changes or not at
    all. A job stopped midway runs again with `start_after` the last id it recorded, and changes
    nobody twice. `params` may carry plain values from one chunk to the next (see send_invitations).
    """
    outcome = None
    size = action.chunk or CHUNK
    pks = list(users.filter(pk__gt=start_after).order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(pks), size):
        ids = pks[start : start + size]
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

    return [action for action in REGISTRY.values() if action.offered and actor_has_right(actor, action.right)]


def _skip_reason(user, to) -> str:
    return _status_skip_reason(user.status, to)


def _status_skip_reason(status, to) -> str:
    label = str(Status(status).label).lower()
    if status == to:
        return _("already %(status)s") % {"status": label}
    return _("currently %(status)s") % {"status": label}


def status_handler(to, *, done, sources=None):
    """A handler for another wording of an administrators' move of the lifecycle to `to`, from
    `sources` (default: every status that move starts from). Not to `invited`: only sending an
    invitation invites, and no administrator's move leads there."""
    moves = [t for t in User.transitions_from(None, by=Transition.ADMINISTRATOR) if t.to == to]
    if not moves:
        raise ValueError(f"No administrator's move of the lifecycle leads to {to!r} (invited: send invitations).")
    allowed = frozenset().union(*(t.sources for t in moves))
    sources = allowed if sources is None else allowed & frozenset(sources)
    return transition_handler(Transition(f"to {to}", sources, to, by=Transition.ADMINISTRATOR, done=done))


def transition_handler(transition: Transition):
    """A handler making the lifecycle move `transition` for each user it applies to, one by one.

    A move to active goes through `flows.people.user_status_action`, which sends a temporary password
    to whoever would otherwise have no way in; the others through the status service itself (the
    sending-paths test reads which handlers can send).
    """

    def activate_each(*, users, actor, params) -> BulkOutcome:
        return _each(
            transition,
            users,
            lambda user: user_status_action(user=user, to=transition.to, actor=actor, reason=_("bulk action")),
        )

    def change_each(*, users, actor, params) -> BulkOutcome:
        return _each(
            transition,
            users,
            lambda user: user_change_status(user=user, to=transition.to, actor=actor, reason=_("bulk action")),
        )

    return activate_each if transition.to == Status.ACTIVE else change_each


def _each(transition: Transition, users, move) -> BulkOutcome:
    outcome = BulkOutcome(done_message=str(transition.done))
    for user in users:
        if user.status not in transition.sources:
            outcome.skip(_skip_reason(user, transition.to), user)
            continue
        try:
            move(user)
        except LastAdministrator:
            outcome.skip(_("the last active administrator must stay active"), user)
        except DomainError as error:
            outcome.skip(error.message, user)
        else:
            outcome.done.append(user)
    return outcome


def send_invitations(*, users, actor, params) -> BulkOutcome:
    """Account invitations to the created and invited users; one batch however many chunks."""
    from django.urls import reverse

    from invitations.models import InvitationBatch
    from invitations.services.account import invitations_send

    outcome = BulkOutcome(done_message=_("%(n)s invited"))
    if not users:
        return outcome
    # `run` hands every chunk the same params: the first chunk's batch is reused by the next ones,
    # and by a job's later run after a crash (its params are kept on the job's row).
    batch = params.get("batch")
    if batch is None and params.get("batch_id"):
        batch = InvitationBatch.objects.for_org(actor.organization).filter(pk=params["batch_id"]).first()
    try:
        result = invitations_send(
            organization=actor.organization,
            users=users,
            actor=actor,
            label=_("Invitations from the users list"),
            batch=batch,
        )
    except NotAllowed:
        # Everyone of this chunk left the actor's scope since the list was drawn: skipped, like one.
        for user in users:
            outcome.skip(_("outside your right to invite"), user)
        return outcome
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


def _members_and_others(group, users) -> tuple[list, list]:
    """`users` split into those already in `group` and the others, in their order."""
    members = set(group.memberships.filter(user__in=users).values_list("user_id", flat=True))
    return [user for user in users if user.pk in members], [user for user in users if user.pk not in members]


def add_to_group(*, users, actor, params) -> BulkOutcome:
    from groups.services import group_add_members

    group = params["group"]
    outcome = BulkOutcome(done_message=_("%%(n)s added to %(group)s") % {"group": _escaped(group)})
    members, new = _members_and_others(group, users)
    for user in members:
        outcome.skip(_("already in %(group)s") % {"group": group}, user)
    group_add_members(group=group, users=new, actor=actor)
    outcome.done = new
    return outcome


def remove_from_group(*, users, actor, params) -> BulkOutcome:
    from groups.services import group_remove_members

    group = params["group"]
    outcome = BulkOutcome(done_message=_("%%(n)s removed from %(group)s") % {"group": _escaped(group)})
    leaving, others = _members_and_others(group, users)
    for user in others:
        outcome.skip(_("not in %(group)s") % {"group": group}, user)
    group_remove_members(group=group, users=leaving, actor=actor)
    outcome.done = leaving
    return outcome


def preview(action: BulkAction, users, params) -> list[str]:
    """What running `action` on `users` (a queryset) would do, for its confirmation page: how many it
    changes, and how many it skips and why, counted the way the handlers decide. Writes nothing."""
    if action.name == "invite":
        from invitations.selectors import account_invitations_preview

        return [account_invitations_preview(users).summary()]
    total = users.count()
    skipped = []
    if action.transition is not None:
        others = users.exclude(status__in=action.transition.sources).order_by().values("status")
        for row in others.annotate(n=Count("pk")).order_by("status"):
            skipped.append((_status_skip_reason(row["status"], action.transition.to), row["n"]))
    elif action.needs_group:
        group = params["group"]
        members = users.filter(memberships__group=group).count()
        if action.name == "add_to_group":
            skipped.append((_("already in %(group)s") % {"group": group}, members))
        else:
            skipped.append((_("not in %(group)s") % {"group": group}, total - members))
    skipped = [(reason, n) for reason, n in skipped if n]
    changed = total - sum(n for _reason, n in skipped)
    text = ngettext("%(action)s: %(n)s user", "%(action)s: %(n)s users", changed) % {
        "action": action.label,
        "n": changed,
    }
    for reason, n in skipped:
        text += "; " + ngettext("%(n)s skipped: %(reason)s", "%(n)s skipped: %(reason)s", n) % {
            "n": n,
            "reason": reason,
        }
    lines = [text + "."]
    if action.transition is not None and action.transition.temporary_password:
        lines.append(_("Those with no way to log in yet receive a temporary password over their preferred channel."))
    return lines


for _transition in User.transitions_from(None, by=Transition.ADMINISTRATOR):
    register(
        BulkAction(
            _transition.name,
            _transition.label,
            transition_handler(_transition),
            confirm=_transition.confirm,
            transition=_transition,
        )
    )
register(
    BulkAction("invite", gettext_lazy("Send invitations"), send_invitations, right=Right.INVITE, chunk=INVITE_CHUNK)
)


def group_awaiting_invitation(*, actor, group):
    """Who "invite the group again" reaches: its members in the actor's invite scope who have not
    accepted yet (invitations.services.account.invitations_resend_to_group, for a big group)."""
    from groups.models import Membership
    from rights.selectors import users_in_scope

    # The members' ids first, then the users by primary key: a plan that does not depend on the
    # tables' statistics (on a group just imported, without them, PostgreSQL may check each waiting
    # user against the whole group: seconds at 10,000 members).
    members = list(Membership.objects.filter(group=group).values_list("user_id", flat=True))
    return users_in_scope(actor, Right.INVITE).filter(pk__in=members).awaiting_invitation()


def group_too_big_for_a_request(group) -> bool:
    """Whether more than SYNC_MAX members of `group` wait for an invitation (whoever's scope): then
    a job invites them. From the group's memberships, at most SYNC_MAX + 1 of them looked at, so
    the answer costs milliseconds at any size, statistics or not."""
    from groups.models import Membership

    waiting = Membership.objects.filter(group=group, user__status__in=User.AWAITING_INVITATION)
    return waiting.values("pk")[: SYNC_MAX + 1].count() > SYNC_MAX


register(
    BulkAction(
        "invite_group",
        gettext_lazy("Invite the group again"),
        send_invitations,
        right=Right.INVITE,
        needs_group=True,
        chunk=INVITE_CHUNK,
        select=group_awaiting_invitation,
    )
)
register(BulkAction("add_to_group", gettext_lazy("Add to group"), add_to_group, needs_group=True))
register(
    BulkAction(
        "remove_from_group", gettext_lazy("Remove from group"), remove_from_group, confirm=True, needs_group=True
    )
)
