"""Every write on groups, memberships, grants and rights profiles.

Each service checks the actor's rights itself, so a view that forgets a check, a command or a
task cannot do more than the actor may. `actor=None` means the system (commands, migrations).
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.rights import ADMINISTRATOR, Right
from accounts.selectors import NO_SCOPE, Scope, actor_scope, people_changed, users_in_scope
from accounts.services import account_links_outdated_for, user_set_administrator
from audit.models import Action
from audit.services import audit_event, audit_record, audit_record_many

from .errors import NotAllowed
from .models import Grant, GrantGroup, Membership, ProfileAssignment, RightsProfile, UserGroup
from .selectors import groups_in_scope, must_place_new_users_in_a_group, personal_grants, profile_grants


def _require_administrator(actor, organization_id) -> None:
    if actor is None:
        return
    if actor.organization_id != organization_id or actor_scope(actor, ADMINISTRATOR) != Scope(all_users=True):
        raise NotAllowed(_("Only an administrator of the organisation may do this."))


def _require_groups_in_scope(actor, groups, right) -> None:
    if actor is None:
        return
    allowed = set(groups_in_scope(actor, right).filter(pk__in=[g.pk for g in groups]).values_list("pk", flat=True))
    if any(group.pk not in allowed for group in groups):
        raise NotAllowed(_("You may only act on the groups in your scope."))


def _require_users_in_scope(actor, users, right) -> None:
    if actor is None:
        return
    allowed = set(users_in_scope(actor, right).filter(pk__in=[u.pk for u in users]).values_list("pk", flat=True))
    if any(user.pk not in allowed for user in users):
        raise NotAllowed(_("You may only act on the users in your scope."))


def _check_name_free(model, *, organization_id, name, exclude_pk=None) -> None:
    clashes = model.objects.filter(organization_id=organization_id).annotate(lname=Lower("name"))
    clashes = clashes.filter(lname=name.lower())
    if exclude_pk:
        clashes = clashes.exclude(pk=exclude_pk)
    if clashes.exists():
        raise ValidationError(
            {"name": _("The name “%(name)s” is already used (names ignore upper and lower case).") % {"name": name}},
            code="unique",
        )


def _save_named(instance, *, exclude_pk=None) -> None:
    """Validate and save a group or profile; a name clash is a form error, even in a race."""
    instance.name = instance.name.strip()
    _check_name_free(
        type(instance), organization_id=instance.organization_id, name=instance.name, exclude_pk=exclude_pk
    )
    instance.full_clean()
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError:
        _check_name_free(
            type(instance), organization_id=instance.organization_id, name=instance.name, exclude_pk=exclude_pk
        )
        raise


def _rights_summary(organization_id, grants: dict[str, Scope], profile_ids=None) -> dict:
    """Rights as the audit trail records them: each right's groups by name ("*": all users), and
    the names of the profiles when given."""
    group_ids = {pk for scope in grants.values() if not scope.all_users for pk in scope.group_ids}
    names = dict(UserGroup.objects.filter(organization_id=organization_id, pk__in=group_ids).values_list("pk", "name"))
    summary = {
        right: "*" if scope.all_users else sorted(names.get(pk, str(pk)) for pk in scope.group_ids)
        for right, scope in grants.items()
    }
    if profile_ids is not None:
        profiles = RightsProfile.objects.filter(organization_id=organization_id, pk__in=list(profile_ids))
        summary["profiles"] = sorted(profiles.values_list("name", flat=True))
    return summary


def _rights_changed(*, user_ids, actor) -> None:
    """Rights granted or withdrawn: the links already sent to these people stop working."""
    account_links_outdated_for(user_ids=user_ids, reason=_("rights changed"), actor=actor)


def _profile_holder_ids(profile_ids) -> list[int]:
    return list(ProfileAssignment.objects.filter(profile_id__in=list(profile_ids)).values_list("user_id", flat=True))


# Groups ------------------------------------------------------------------------------------------


@transaction.atomic
def group_create(*, organization, actor, name: str, description: str = "") -> UserGroup:
    """Create a group (administrators only)."""
    _require_administrator(actor, organization.pk)
    group = UserGroup(organization=organization, name=name, description=description)
    _save_named(group)
    audit_record(
        organization=organization,
        actor=actor,
        action=Action.GROUP_CREATED,
        target=group,
        after={"name": group.name, "description": description},
    )
    return group


@transaction.atomic
def group_update(*, group: UserGroup, actor, name: str, description: str = "") -> UserGroup:
    """Rename a group or change its description (administrators only)."""
    _require_administrator(actor, group.organization_id)
    before = {"name": group.name, "description": group.description}
    group.name = name
    group.description = description
    _save_named(group, exclude_pk=group.pk)
    audit_record(
        organization=group.organization_id,
        actor=actor,
        action=Action.GROUP_UPDATED,
        target=group,
        before=before,
        after={"name": group.name, "description": group.description},
    )
    return group


@transaction.atomic
def group_delete(*, group: UserGroup, actor) -> None:
    """Delete a group: its memberships and the grants scoped to it go, its users are never touched."""
    _require_administrator(actor, group.organization_id)
    audit_record(
        organization=group.organization_id,
        actor=actor,
        action=Action.GROUP_DELETED,
        target=group,
        before={"name": group.name, "description": group.description},
    )
    # The rights scoped to this group shrink (or go): their holders' links must not outlive that.
    scoped = Grant.objects.filter(organization_id=group.organization_id, grant_groups__group=group)
    holders = {*scoped.exclude(user=None).values_list("user_id", flat=True)}
    holders |= set(_profile_holder_ids(scoped.exclude(profile=None).values_list("profile_id", flat=True)))
    group.delete()
    _rights_changed(user_ids=holders, actor=actor)
    people_changed(group.organization_id)
    # A grant that was scoped to this group only now reaches nobody: drop it rather than keep
    # a grant that looks held but is empty.
    Grant.objects.filter(organization_id=group.organization_id, all_users=False, grant_groups__isnull=True).delete()


@transaction.atomic
def group_add_members(*, group: UserGroup, users, actor, right: str = Right.MANAGE_USERS) -> int:
    """Add `users` to `group`; both must be in `actor`'s scope. Returns how many were added."""
    users = list(users)
    if any(user.organization_id != group.organization_id for user in users):
        raise NotAllowed(_("You may only act on the users in your scope."))
    _require_groups_in_scope(actor, [group], right)
    _require_users_in_scope(actor, users, right)
    return _add(group=group, users=users, actor=actor)


@transaction.atomic
def group_add_created_users(*, group: UserGroup, users, actor, right: str = Right.MANAGE_USERS) -> int:
    """Put users `actor` has just created into `group`, which must be in their scope.

    A brand-new user is in no group yet, so in no group-scoped manager's scope: checking the users
    like group_add_members does would refuse every creation by such a manager (DESIGN §6 wants them
    to put new people in one of their groups). Only users created by `actor` are accepted.
    """
    users = list(users)
    if any(user.organization_id != group.organization_id for user in users):
        raise NotAllowed(_("You may only act on the users in your scope."))
    if actor is not None and any(user.created_by_id != actor.pk for user in users):
        raise NotAllowed(_("You may only act on the users in your scope."))
    _require_groups_in_scope(actor, [group], right)
    return _add(group=group, users=users, actor=actor)


@transaction.atomic
def _add(*, group, users, actor) -> int:
    # Two people adding the same user to the same group at once: the group's row lock makes the
    # second wait and then see the first's memberships, so each says truthfully how many it added.
    # ignore_conflicts covers writers that do not take the lock (the import).
    UserGroup.objects.select_for_update().filter(pk=group.pk).first()
    existing = set(group.memberships.filter(user__in=users).values_list("user_id", flat=True))
    new = [
        Membership(organization_id=group.organization_id, group=group, user=user, added_by=actor)
        for user in {user.pk: user for user in users}.values()
        if user.pk not in existing
    ]
    Membership.objects.bulk_create(new, ignore_conflicts=True)
    audit_record_many(
        audit_event(
            organization=group.organization_id,
            actor=actor,
            action=Action.GROUP_MEMBER_ADDED,
            target=group,
            user=membership.user,
        )
        for membership in new
    )
    people_changed(group.organization_id)
    return len(new)


@transaction.atomic
def group_remove_members(*, group: UserGroup, users, actor, right: str = Right.MANAGE_USERS) -> int:
    """Remove `users` from `group`; never touches the users themselves. Returns how many were removed."""
    users = list(users)
    _require_groups_in_scope(actor, [group], right)
    _require_users_in_scope(actor, users, right)
    leaving = list(group.memberships.filter(user__in=users).values_list("user_id", flat=True))
    deleted, _counts = group.memberships.filter(user__in=users).delete()
    audit_record_many(
        audit_event(
            organization=group.organization_id,
            actor=actor,
            action=Action.GROUP_MEMBER_REMOVED,
            target=group,
            user=user_id,
        )
        for user_id in leaving
    )
    people_changed(group.organization_id)
    return deleted


@transaction.atomic
def memberships_set(*, actor, users, groups, pairs, right: str = Right.MANAGE_USERS) -> tuple[int, int]:
    """Make the memberships of `users` × `groups` exactly `pairs` ((user_id, group_id) tuples).

    The membership grid saves through this: every user and group must be in `actor`'s scope, and
    memberships outside `users` × `groups` are left alone. Returns (added, removed).
    """
    users, groups = list(users), list(groups)
    _require_groups_in_scope(actor, groups, right)
    _require_users_in_scope(actor, users, right)
    user_ids, group_ids = {u.pk for u in users}, {g.pk for g in groups}
    wanted = {(u, g) for u, g in pairs}
    if any(u not in user_ids or g not in group_ids for u, g in wanted):
        raise NotAllowed(_("You may only act on the users and groups in your scope."))
    organization_id = groups[0].organization_id if groups else None
    current = Membership.objects.filter(organization_id=organization_id, user_id__in=user_ids, group_id__in=group_ids)
    have = set(current.values_list("user_id", "group_id"))
    to_remove = have - wanted
    removed = 0
    for user_id, group_id in to_remove:
        removed += current.filter(user_id=user_id, group_id=group_id).delete()[0]
    # The same grid saved twice at once: the second save's additions are already there.
    Membership.objects.bulk_create(
        (
            Membership(organization_id=organization_id, user_id=u, group_id=g, added_by=actor)
            for u, g in sorted(wanted - have)
        ),
        ignore_conflicts=True,
    )
    by_id = {group.pk: group for group in groups}
    audit_record_many(
        audit_event(organization=organization_id, actor=actor, action=action, target=by_id[g], user=u)
        for action, pairs in ((Action.GROUP_MEMBER_REMOVED, to_remove), (Action.GROUP_MEMBER_ADDED, wanted - have))
        for u, g in sorted(pairs)
    )
    if organization_id:
        people_changed(organization_id)
    return len(wanted - have), removed


def new_user_groups_check(*, actor, groups, right: str = Right.MANAGE_USERS) -> None:
    """Refuse to create (or import) a user that would land outside `actor`'s reach.

    Every group must be in `actor`'s scope, and a group-scoped manager must pick at least one.
    Call it before creating the user; `user_place_in_groups` calls it again.
    """
    groups = list(groups)
    _require_groups_in_scope(actor, groups, right)
    if actor is not None and must_place_new_users_in_a_group(actor, right) and not groups:
        raise NotAllowed(_("Put the new user in at least one of your groups: otherwise you could not manage them."))


@transaction.atomic
def user_place_in_groups(*, user: User, groups, actor, right: str = Right.MANAGE_USERS) -> int:
    """Put a user `actor` has just created or imported into `groups` (checked against `actor`'s scope)."""
    groups = list(groups)
    new_user_groups_check(actor=actor, groups=groups, right=right)
    if any(group.organization_id != user.organization_id for group in groups):
        raise NotAllowed(_("You may only act on the groups in your scope."))
    return sum(_add(group=group, users=[user], actor=actor) for group in groups)


# Rights ------------------------------------------------------------------------------------------


def _clean_grants(organization_id, grants: dict) -> dict[str, Scope]:
    """Normalise {right: Scope}; every group must belong to the organisation."""
    clean = {}
    all_group_ids = set()
    for right, scope in grants.items():
        right = Right(right)
        if scope:
            clean[right.value] = Scope(all_users=True) if scope.all_users else scope
            all_group_ids |= set(scope.group_ids) if not scope.all_users else set()
    known = set(
        UserGroup.objects.filter(organization_id=organization_id, pk__in=all_group_ids).values_list("pk", flat=True)
    )
    if all_group_ids - known:
        raise NotAllowed(_("You may only act on the groups in your scope."))
    return clean


def _check_grantable(actor, before: dict, after: dict) -> None:
    """Nobody grants (or withdraws) more than they hold."""
    if actor is None:
        return
    for right in set(before) | set(after):
        old, new = before.get(right, NO_SCOPE), after.get(right, NO_SCOPE)
        if old == new:
            continue
        held = actor_scope(actor, right)
        if not (held.covers(old) and held.covers(new)):
            raise NotAllowed(
                _("You cannot grant “%(right)s” beyond the scope you hold yourself.") % {"right": Right(right).label}
            )


def _write_grants(*, organization_id, owner: dict, grants: dict[str, Scope], actor) -> None:
    Grant.objects.filter(organization_id=organization_id, **owner).delete()
    for right, scope in grants.items():
        grant = Grant(
            organization_id=organization_id, right=right, all_users=scope.all_users, granted_by=actor, **owner
        )
        grant.full_clean()
        grant.save()
        if not scope.all_users:
            GrantGroup.objects.bulk_create(
                GrantGroup(organization_id=organization_id, grant=grant, group_id=group_id)
                for group_id in sorted(scope.group_ids)
            )


@transaction.atomic
def user_rights_set(*, user: User, actor, is_administrator: bool, profiles, grants: dict[str, Scope]) -> User:
    """Set everything `user` holds: the administrator flag, their rights profiles, their own grants.

    Administrators only; the last active administrator stays one (accounts.services enforces it
    and, being first, refuses before anything is written).
    """
    _require_administrator(actor, user.organization_id)
    profiles = list(profiles)
    if any(profile.organization_id != user.organization_id for profile in profiles):
        raise NotAllowed(_("Unknown rights profile."))
    grants = _clean_grants(user.organization_id, grants)
    if is_administrator != user.is_administrator:
        user = user_set_administrator(user=user, is_administrator=is_administrator, actor=actor)
    before = personal_grants(user)
    _check_grantable(actor, before, grants)
    changed = before != grants
    if changed:
        _write_grants(organization_id=user.organization_id, owner={"user": user}, grants=grants, actor=actor)
    current = set(
        ProfileAssignment.objects.filter(organization_id=user.organization_id, user=user).values_list(
            "profile_id", flat=True
        )
    )
    wanted = {profile.pk for profile in profiles}
    for profile in profiles:
        if profile.pk not in current:
            _check_grantable(actor, {}, profile_grants(profile))
    ProfileAssignment.objects.filter(organization_id=user.organization_id, user=user).exclude(
        profile_id__in=wanted
    ).delete()
    ProfileAssignment.objects.bulk_create(
        ProfileAssignment(organization_id=user.organization_id, profile=profile, user=user, assigned_by=actor)
        for profile in profiles
        if profile.pk not in current
    )
    audit_record(
        organization=user.organization_id,
        actor=actor,
        action=Action.RIGHTS_CHANGED,
        target=user,
        before=_rights_summary(user.organization_id, before, current),
        after=_rights_summary(user.organization_id, grants, wanted),
    )
    if changed or wanted != current:  # (a change of the administrator flag was dealt with above)
        _rights_changed(user_ids=[user.pk], actor=actor)
    people_changed(user.organization_id)  # their scope, hence their counts, may have changed
    return user


@transaction.atomic
def profile_create(*, organization, actor, name: str, description: str = "", grants: dict[str, Scope]) -> RightsProfile:
    """Define a rights profile (administrators only)."""
    _require_administrator(actor, organization.pk)
    grants = _clean_grants(organization.pk, grants)
    _check_grantable(actor, {}, grants)
    profile = RightsProfile(organization=organization, name=name, description=description)
    _save_named(profile)
    _write_grants(organization_id=organization.pk, owner={"profile": profile}, grants=grants, actor=actor)
    audit_record(
        organization=organization,
        actor=actor,
        action=Action.PROFILE_CREATED,
        target=profile,
        after={"name": profile.name, "description": description, **_rights_summary(organization.pk, grants)},
    )
    return profile


@transaction.atomic
def profile_update(
    *, profile: RightsProfile, actor, name: str, description: str = "", grants: dict[str, Scope]
) -> RightsProfile:
    """Change a profile: every holder's effective rights change with it, at once."""
    _require_administrator(actor, profile.organization_id)
    grants = _clean_grants(profile.organization_id, grants)
    before = profile_grants(profile)
    _check_grantable(actor, before, grants)
    audited = {"name": profile.name, "description": profile.description}
    audited |= _rights_summary(profile.organization_id, before)
    profile.name, profile.description = name, description
    _save_named(profile, exclude_pk=profile.pk)
    if before != grants:
        _write_grants(organization_id=profile.organization_id, owner={"profile": profile}, grants=grants, actor=actor)
        _rights_changed(user_ids=_profile_holder_ids([profile.pk]), actor=actor)
        people_changed(profile.organization_id)  # every holder's scope changed
    audit_record(
        organization=profile.organization_id,
        actor=actor,
        action=Action.PROFILE_UPDATED,
        target=profile,
        before=audited,
        after={"name": profile.name, "description": description, **_rights_summary(profile.organization_id, grants)},
    )
    return profile


@transaction.atomic
def profile_delete(*, profile: RightsProfile, actor) -> None:
    """Delete a profile: its holders lose the rights it gave them (their own grants stay)."""
    _require_administrator(actor, profile.organization_id)
    audit_record(
        organization=profile.organization_id,
        actor=actor,
        action=Action.PROFILE_DELETED,
        target=profile,
        before={"name": profile.name, **_rights_summary(profile.organization_id, profile_grants(profile))},
    )
    holders = _profile_holder_ids([profile.pk])
    profile.delete()
    _rights_changed(user_ids=holders, actor=actor)
    people_changed(profile.organization_id)  # its holders lost its scopes
