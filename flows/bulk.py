"""Bulk actions on people: a small registry the users list offers and one view runs.

Adding an action is one `register(BulkAction(...))` call with a handler
`handler(*, users, actor, params) -> BulkOutcome` that changes each user on its own (fully or not
at all) and says what happened to whom. The status actions are not written here: they are the
administrators' moves of the lifecycle table (`User.LIFECYCLE`), registered from it with their
label, confirmation and summary (`transition_handler`), so a move added to the table is offered here
and on the user page at once.

The "set" actions (type, language, preferred channel) and the group actions are undoable: each chunk
keeps, on the job that runs it (params["job_id"]), a BulkChange row per person changed saying what
they had before; the "undo" action, run like any other, puts back those who were not changed since.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import BigIntegerField, Count, Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext

from accounts.errors import LastAdministrator
from accounts.identity import Channel
from accounts.models import BulkChange, BulkJob, Language, Transition, User, UserType
from accounts.services import (
    CHANGED_SINCE,
    user_change_status,
    users_fields_restore,
    users_set_channel,
    users_set_language,
    users_set_type,
)
from experquiz.authorization import NotAllowed
from experquiz.bulk_insert import insert_many
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
# Setting a field, and undoing, are set-based too (a few statements per chunk, none per person) and
# lock no organisation.
FIELD_CHUNK = 200
NAMES_SHOWN = 5


def _separator() -> str:
    # Between what was done and each reason for skipping: French puts a space before the semicolon.
    return pgettext("between the parts of a bulk action's summary", "; ")


@dataclass
class BulkOutcome:
    """What a bulk action did: a sentence for the users changed and one per reason for skipping."""

    done_message: str
    done: list = field(default_factory=list)
    skipped: dict = field(default_factory=dict)  # reason → [users]
    link: str = ""  # where to follow what the action started (an invitation batch), if anywhere
    unnamed: set = field(default_factory=set)  # reasons whose people the summary only counts

    def skip(self, reason: str, user, *, named: bool = True) -> None:
        """`named=False`: people the actor may no longer see (outside their rights) are counted, not named."""
        self.skipped.setdefault(reason, []).append(user)
        if not named:
            self.unnamed.add(reason)

    def summary(self) -> str:
        """'40 deactivated; 3 skipped: already inactive — Ann B., Bob C., Carl D.'"""
        return Tally().add(self).summary(self.done_message)

    def merge(self, other: "BulkOutcome") -> None:
        self.done += other.done
        self.link = self.link or other.link
        self.unnamed |= other.unnamed
        for reason, users in other.skipped.items():
            self.skipped.setdefault(reason, []).extend(users)

    @property
    def level(self) -> str:
        return Tally().add(self).level

    @property
    def count(self) -> int:
        """How many people it went through: each is either done or skipped."""
        return len(self.done) + sum(len(users) for users in self.skipped.values())


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
            if reason not in outcome.unnamed:
                entry["names"] = (entry["names"] + [user.short_name for user in users])[:NAMES_SHOWN]
        return self

    def summary(self, done_message) -> str:
        parts = [str(done_message) % {"n": self.done}]
        for reason, entry in self.skipped.items():
            n = entry["n"]
            if not entry["names"]:
                parts.append(
                    ngettext("%(n)s skipped: %(reason)s", "%(n)s skipped: %(reason)s", n) % {"n": n, "reason": reason}
                )
                continue
            names = ", ".join(entry["names"])
            if n > len(entry["names"]):
                names += ", " + _("and %(n)s more") % {"n": n - len(entry["names"])}
            parts.append(
                ngettext("%(n)s skipped: %(reason)s — %(names)s", "%(n)s skipped: %(reason)s — %(names)s", n)
                % {"n": n, "reason": reason, "names": names}
            )
        text = _separator().join(parts)
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
    # An action started from elsewhere than the users list (not offered there): `select(actor=, job=)`
    # gives the users a job runs it on, instead of the list's filters.
    select: Callable | None = None
    # The user field a "set" action changes (its value in params["value"]), if it is one.
    field: str = ""
    # Whether it keeps what each person had before (BulkChange rows), so that it can be undone.
    undoable: bool = False
    # Whether its handler reads the chunk's people itself, with only what it needs: it is handed them
    # as a queryset instead of the full rows `run` would read first (sending invitations reads them
    # once, to decide whom to skip, in the order its report names them).
    reads_chunk: bool = False

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
            chunk = users.model.objects.filter(pk__in=ids)
            if action.reads_chunk:
                part = action.handler(users=chunk, actor=actor, params=params)
                count = part.count
            else:
                chunk = list(chunk.order_by("pk"))
                part = action.handler(users=chunk, actor=actor, params=params)
                count = len(chunk)
            if chunk_done:
                chunk_done(part, ids[-1], count)
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
    """Account invitations to the created and invited users; one batch however many chunks.

    `users`: the chunk's people as a queryset, read by the sending service only (the action reads
    its chunk itself, see BulkAction.reads_chunk), or a list of people already read."""
    from django.urls import reverse

    from invitations.models import InvitationBatch
    from invitations.services.account import invitations_send

    outcome = BulkOutcome(done_message=_("%(n)s invited"))
    if isinstance(users, list) and not users:  # run's outcome of an empty selection
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
        for user in users if isinstance(users, list) else users.order_by("pk"):
            outcome.skip(_("outside your right to invite"), user)
        return outcome
    if result.batch is not None:
        params["batch_id"] = result.batch.pk
        outcome.link = reverse("invitations:batch", args=[result.batch.pk])
    outcome.done = result.recipients
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


def _remember(params, actor, before: dict) -> None:
    """Keep, on the job running this chunk, what each person changed had before ({user id: value}):
    what its undo puts back. In the chunk's transaction, so it commits with the changes or not at all."""
    job_id = params.get("job_id")
    if job_id and before:
        insert_many(
            BulkChange,
            (
                BulkChange(organization_id=actor.organization_id, job_id=job_id, user_id=pk, before=value)
                for pk, value in before.items()
            ),
        )


def add_to_group(*, users, actor, params) -> BulkOutcome:
    from groups.services import group_add_members

    group = params["group"]
    outcome = BulkOutcome(done_message=_("%%(n)s added to %(group)s") % {"group": _escaped(group)})
    members, new = _members_and_others(group, users)
    for user in members:
        outcome.skip(_("already in %(group)s") % {"group": group}, user)
    group_add_members(group=group, users=new, actor=actor)
    outcome.done = new
    # The memberships this chunk made, by id: its undo removes those, not one made again since.
    made = group.memberships.filter(user__in=new).values_list("user_id", "pk")
    _remember(params, actor, {user_id: {"membership": pk} for user_id, pk in made})
    return outcome


def remove_from_group(*, users, actor, params) -> BulkOutcome:
    from groups.services import group_remove_members

    group = params["group"]
    outcome = BulkOutcome(done_message=_("%%(n)s removed from %(group)s") % {"group": _escaped(group)})
    leaving, others = _members_and_others(group, users)
    for user in others:
        outcome.skip(_("not in %(group)s") % {"group": group}, user)
    # When and by whom each had been added, for the undo to put the membership back as it was.
    kept = group.memberships.filter(user__in=leaving).values_list("user_id", "added_at", "added_by_id")
    before = {user_id: {"added_at": added_at.isoformat(), "added_by": added_by} for user_id, added_at, added_by in kept}
    group_remove_members(group=group, users=leaving, actor=actor)
    outcome.done = leaving
    _remember(params, actor, before)
    return outcome


# Setting a field: the type, the language or the preferred channel -----------------------------------


def field_choices(action: BulkAction, organization) -> list[tuple[str, str]]:
    """The values a "set" action offers, as (value as posted, label): the organisation's own types,
    the languages shipped, the channels."""
    if action.field == "user_type":
        return [
            (str(pk), str(UserType(name=name)))
            for pk, name in UserType.objects.for_org(organization).values_list("pk", "name")
        ]
    choices = Language.choices if action.field == "language" else Channel.choices
    return [(value, str(label)) for value, label in choices]


def field_value(action: BulkAction, organization, posted: str):
    """The value a "set" action was asked to set, as kept in a job's params (a type's id, a language,
    a channel), or None when `posted` is not one of the values offered."""
    if posted not in dict(field_choices(action, organization)):
        return None
    return int(posted) if action.field == "user_type" else posted


def value_label(action: BulkAction, organization, value) -> str:
    """How a value of a "set" action reads ("Trainer", "Français", "SMS")."""
    return dict(field_choices(action, organization)).get(str(value), _("a type since deleted"))


# "Set the type to ‘Trainer’ for 12 users", for the confirmation; "12 changed to type ‘Trainer’", done.
SET_SENTENCES = {
    "user_type": (
        lambda value, n: ngettext(
            "Set the type to ‘%(value)s’ for %(n)s user", "Set the type to ‘%(value)s’ for %(n)s users", n
        ),
        lambda: _("%%(n)s changed to type ‘%(value)s’"),
    ),
    "language": (
        lambda value, n: ngettext(
            "Set the language to ‘%(value)s’ for %(n)s user", "Set the language to ‘%(value)s’ for %(n)s users", n
        ),
        lambda: _("%%(n)s changed to language ‘%(value)s’"),
    ),
    "preferred_channel": (
        lambda value, n: ngettext(
            "Set the preferred channel to ‘%(value)s’ for %(n)s user",
            "Set the preferred channel to ‘%(value)s’ for %(n)s users",
            n,
        ),
        lambda: _("%%(n)s changed to preferred channel ‘%(value)s’"),
    ),
}


def _already(shown) -> str:
    # Worded as accounts.services words it when it skips someone.
    return _("already ‘%(value)s’") % {"value": shown}


def _no_address(channel) -> str:
    return _("no mobile number") if channel == Channel.SMS else _("no email address")


def _split_by_scope(users, actor, right) -> tuple[list, list]:
    """`users` split into those `actor` may act on with `right` now, and the others (who may have left
    the actor's groups since the list was drawn, or since the action that is being undone)."""
    from rights.selectors import users_in_scope

    allowed = set(users_in_scope(actor, right).filter(pk__in=[user.pk for user in users]).values_list("pk", flat=True))
    return [user for user in users if user.pk in allowed], [user for user in users if user.pk not in allowed]


def _outside() -> str:
    return _("outside your rights")


def set_field_handler(name: str):
    """The handler of the action setting the field `name` (params["value"]) on each user of a chunk,
    through the service of accounts.services that sets it, which skips whoever has it already."""

    def handler(*, users, actor, params) -> BulkOutcome:
        action = next(action for action in REGISTRY.values() if action.field == name)
        value = params["value"]
        shown = value_label(action, actor.organization, value)
        outcome = BulkOutcome(done_message=SET_SENTENCES[name][1]() % {"value": _escaped(shown)})
        mine, outside = _split_by_scope(users, actor, action.right)
        for user in outside:
            outcome.skip(_outside(), user, named=False)
        ids = [user.pk for user in mine]
        if name == "user_type":
            user_type = UserType.objects.for_org(actor.organization).filter(pk=value).first()
            if user_type is None:
                for user in mine:
                    outcome.skip(_("the type was deleted"), user)
                return outcome
            result = users_set_type(organization=actor.organization, user_ids=ids, user_type=user_type, actor=actor)
        elif name == "language":
            result = users_set_language(organization=actor.organization, user_ids=ids, language=value, actor=actor)
        else:
            result = users_set_channel(organization=actor.organization, user_ids=ids, channel=value, actor=actor)
        by_id = {user.pk: user for user in mine}
        outcome.done = [by_id[pk] for pk in result.previous]
        for pk, reason in result.skipped:
            outcome.skip(reason, by_id[pk])
        _remember(params, actor, result.previous)
        return outcome

    return handler


# Undo ---------------------------------------------------------------------------------------------


def describe(job: BulkJob) -> str:
    """What an undoable job did, in a few words: "Set the type to ‘Trainer’", "Add to Sales"."""
    action = REGISTRY.get(job.action)
    if action is None:
        return job.action
    if action.field:
        shown = value_label(action, job.organization, job.params.get("value"))
        return {
            "user_type": _("Set the type to ‘%(value)s’"),
            "language": _("Set the language to ‘%(value)s’"),
            "preferred_channel": _("Set the preferred channel to ‘%(value)s’"),
        }[action.field] % {"value": shown}
    group = job.group.name if job.group else _("a group since deleted")
    if action.name == "add_to_group":
        return _("Add to %(group)s") % {"group": group}
    if action.name == "remove_from_group":
        return _("Remove from %(group)s") % {"group": group}
    return str(action.label)


def undo_refusal(job: BulkJob) -> str:
    """Why `job` cannot be undone, or "" when it can: an undoable action, over (done, or stopped
    part-way), that changed someone and was not undone yet."""
    action = REGISTRY.get(job.action)
    if action is None or not action.undoable:
        return _("This action cannot be undone.")
    if job.state == BulkJob.State.RUNNING:
        return _("This action is still running: undo it once it is over.")
    if BulkJob.objects.filter(undo_of=job).exists():
        return _("This action was already undone.")
    if not job.changes.exists():
        return _("This action changed nobody: there is nothing to undo.")
    return ""


def undo_selection(*, actor, job: BulkJob):
    """The people an undo job goes through: everyone the job it undoes changed."""
    changed = BulkChange.objects.filter(organization_id=job.organization_id, job_id=job.params.get("undoes"))
    return User.objects.filter(organization_id=job.organization_id, pk__in=changed.values("user_id"))


def _group_reasons(group) -> dict:
    return {
        "outside": _("%(group)s is outside your groups now") % {"group": group},
        "gone": _("not in %(group)s any more") % {"group": group},
        "again": _("added to %(group)s again since") % {"group": group},
        "back": _("back in %(group)s since") % {"group": group},
    }


def undo(*, users, actor, params) -> BulkOutcome:
    """Put each person of the chunk back as they were before the job `params["undoes"]` changed
    them, unless they changed since; through the same services as any change, which record it."""
    from groups.services import group_remove_members, group_restore_members
    from rights.selectors import groups_in_scope

    original = BulkJob.objects.select_related("group", "organization").get(
        organization_id=actor.organization_id, pk=params["undoes"]
    )
    action = REGISTRY[original.action]
    outcome = BulkOutcome(done_message=_("%(n)s put back as they were"))
    before = dict(
        BulkChange.objects.filter(organization_id=original.organization_id, job=original, user__in=users).values_list(
            "user_id", "before"
        )
    )
    mine, outside = _split_by_scope(users, actor, action.right)
    for user in outside:
        outcome.skip(_outside(), user, named=False)
    by_id = {user.pk: user for user in mine}
    if not mine:
        return outcome
    if action.field:
        result = users_fields_restore(
            organization=original.organization,
            field=action.field,
            previous={pk: before[pk] for pk in by_id},
            current=original.params["value"],
            actor=actor,
        )
        outcome.done = [by_id[pk] for pk in result.previous]
        for pk, reason in result.skipped:
            outcome.skip(reason, by_id[pk])
        return outcome
    group = original.group
    if group is None:
        for user in mine:
            outcome.skip(_("the group was deleted"), user)
        return outcome
    reasons = _group_reasons(group)
    if not groups_in_scope(actor, action.right).filter(pk=group.pk).exists():
        for user in mine:
            outcome.skip(reasons["outside"], user)
        return outcome
    members = set(group.memberships.filter(user__in=mine).values_list("user_id", flat=True))
    if action.name == "add_to_group":
        made = {before[pk]["membership"] for pk in by_id}
        still = set(group.memberships.filter(pk__in=made).values_list("user_id", flat=True))
        for pk, user in by_id.items():
            if pk not in still:
                outcome.skip(reasons["again"] if pk in members else reasons["gone"], user)
        leaving = [by_id[pk] for pk in sorted(still)]
        group_remove_members(group=group, users=leaving, actor=actor)
        outcome.done = leaving
        return outcome
    for pk, user in by_id.items():
        if pk in members:
            outcome.skip(reasons["back"], user)
    back = group_restore_members(
        group=group,
        memberships=[
            (pk, parse_datetime(before[pk]["added_at"]), before[pk]["added_by"]) for pk in by_id if pk not in members
        ],
        actor=actor,
    )
    outcome.done = [by_id[pk] for pk in back]
    return outcome


def undo_preview(job: BulkJob, actor) -> tuple[list[str], object, int]:
    """What undoing `job` would do, for its confirmation page, counted the way `undo` decides: the
    lines to show, those of the people it goes through whom `actor` may see (a queryset, for a
    sample of names), and how many it goes through in all. Writes nothing."""
    from groups.models import Membership
    from rights.selectors import groups_in_scope, users_in_scope

    action = REGISTRY[job.action]
    changes = BulkChange.objects.filter(organization_id=job.organization_id, job=job)
    people = User.objects.filter(organization_id=job.organization_id, pk__in=changes.values("user_id"))
    total = people.count()
    mine = users_in_scope(actor, action.right).filter(pk__in=changes.values("user_id"))
    n_mine = mine.count()
    skipped = [(_outside(), total - n_mine)]
    if action.field:
        value = job.params.get("value")
        attname = User._meta.get_field(action.field).attname
        holding = Q(**{attname: value}) if value is not None else Q(**{f"{attname}__isnull": True})
        skipped.append((str(CHANGED_SINCE[action.field]), mine.exclude(holding).count()))
        still = changes.filter(user__in=mine.filter(holding))
        if action.field == "user_type":
            types = list(UserType.objects.for_org(job.organization_id).values_list("pk", flat=True))
            gone = still.exclude(before__isnull=True).exclude(before__in=types).count()
            skipped.append((_("their previous type was deleted"), gone))
        elif action.field == "preferred_channel":
            for channel, address in ((Channel.SMS, "mobile"), (Channel.EMAIL, "email")):
                n = still.filter(before=channel.value, **{f"user__{address}": ""}).count()
                skipped.append((_no_address(channel), n))
    elif job.group is None:
        skipped.append((_("the group was deleted"), n_mine))
    else:
        group = job.group
        reasons = _group_reasons(group)
        if not groups_in_scope(actor, action.right).filter(pk=group.pk).exists():
            skipped.append((reasons["outside"], n_mine))
        else:
            members = Membership.objects.filter(group=group, user__in=mine).count()
            if action.name == "add_to_group":
                made = changes.annotate(membership=Cast(KeyTextTransform("membership", "before"), BigIntegerField()))
                still = Membership.objects.filter(group=group, user__in=mine, pk__in=made.values("membership")).count()
                skipped += [(reasons["again"], members - still), (reasons["gone"], n_mine - members)]
            else:
                skipped.append((reasons["back"], members))
    return (
        _sentence(
            ngettext("Undo “%(what)s” for %(n)s user", "Undo “%(what)s” for %(n)s users", total - _sum(skipped))
            % {"what": describe(job), "n": total - _sum(skipped)},
            skipped,
        ),
        mine.order_by("last_name", "first_name", "pk"),
        total,
    )


def _sum(skipped) -> int:
    return sum(n for _reason, n in skipped if n)


def _sentence(text: str, skipped) -> list[str]:
    for reason, n in skipped:
        if n:
            text += _separator() + ngettext("%(n)s skipped: %(reason)s", "%(n)s skipped: %(reason)s", n) % {
                "n": n,
                "reason": reason,
            }
    return [text + "."]


def preview(action: BulkAction, users, params, *, organization=None) -> list[str]:
    """What running `action` on `users` (a queryset) would do, for its confirmation page: how many it
    changes, and how many it skips and why, counted the way the handlers decide. Writes nothing.
    `organization`: the actor's, for the value a "set" action sets."""
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
    elif action.field:
        return _field_preview(action, users, params["value"], organization, total)
    changed = total - _sum(skipped)
    lines = _sentence(
        ngettext("%(action)s: %(n)s user", "%(action)s: %(n)s users", changed) % {"action": action.label, "n": changed},
        skipped,
    )
    if action.transition is not None and action.transition.temporary_password:
        lines.append(_("Those with no way to log in yet receive a temporary password over their preferred channel."))
    if action.undoable:
        lines.append(_("You can undo it afterwards: those not changed again meanwhile are put back as they were."))
    return lines


def _field_preview(action: BulkAction, users, value, organization, total) -> list[str]:
    from invitations.models import Invitation

    attname = User._meta.get_field(action.field).attname
    shown = value_label(action, organization, value)
    skipped = [(_already(shown), users.filter(**{attname: value}).count())]
    changing = users.exclude(**{attname: value})
    if action.field == "preferred_channel":
        address = "mobile" if value == Channel.SMS else "email"
        skipped.append((_no_address(value), changing.filter(**{address: ""}).count()))
        changing = changing.exclude(**{address: ""})
    changed = total - _sum(skipped)
    lines = _sentence(SET_SENTENCES[action.field][0](shown, changed) % {"value": shown, "n": changed}, skipped)
    if action.field == "preferred_channel":
        waiting = Invitation.objects.pending_account_links().filter(user__in=changing).values("user_id").distinct()
        n = waiting.count()
        if n:
            lines.append(
                ngettext(
                    "%(n)s of them has an invitation or password link waiting to be used: it will stop working, "
                    "as when one person's channel is changed (send a new one afterwards).",
                    "%(n)s of them have an invitation or password link waiting to be used: it will stop working, "
                    "as when one person's channel is changed (send a new one afterwards).",
                    n,
                )
                % {"n": n}
            )
    lines.append(_("You can undo it afterwards: those not changed again meanwhile are put back as they were."))
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
    BulkAction(
        "invite",
        gettext_lazy("Send invitations"),
        send_invitations,
        right=Right.INVITE,
        chunk=INVITE_CHUNK,
        reads_chunk=True,
    )
)


def _group_awaiting_invitation_of(*, actor, job):
    return group_awaiting_invitation(actor=actor, group=job.group)


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
        select=_group_awaiting_invitation_of,
        reads_chunk=True,
    )
)
register(BulkAction("add_to_group", gettext_lazy("Add to group"), add_to_group, needs_group=True, undoable=True))
register(
    BulkAction(
        "remove_from_group",
        gettext_lazy("Remove from group"),
        remove_from_group,
        confirm=True,
        needs_group=True,
        undoable=True,
    )
)
for _name, _field, _label in (
    ("set_type", "user_type", gettext_lazy("Set the type")),
    ("set_language", "language", gettext_lazy("Set the language")),
    ("set_channel", "preferred_channel", gettext_lazy("Set the preferred channel")),
):
    register(BulkAction(_name, _label, set_field_handler(_field), field=_field, undoable=True, chunk=FIELD_CHUNK))
register(BulkAction("undo", gettext_lazy("Undo"), undo, select=undo_selection, chunk=FIELD_CHUNK))
