"""Every write on rights: the administrator flag, personal grants and rights profiles.

Each service checks the actor's rights itself (experquiz.authorization), and nobody grants more
than they hold. `actor=None` means the system (tasks and commands).
"""

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.errors import LastAdministrator
from accounts.models import Organization, User
from accounts.selectors import people_changed
from accounts.services import _other_active_administrators, account_links_outdated_for
from audit.models import Action
from audit.services import audit_record
from experquiz.naming import named_save
from groups.errors import NotAllowed
from groups.models import UserGroup
from groups.services import _require_administrator

from .models import Grant, GrantGroup, ProfileAssignment, RightsProfile
from .names import Right
from .selectors import NO_SCOPE, Scope, actor_scope, personal_grants, profile_grants

Status = User.Status


@transaction.atomic
def user_set_administrator(*, user: User, is_administrator: bool, actor: User | None) -> User:
    """Grant or withdraw the administrator right (administrators only); the last active administrator
    cannot be demoted."""
    _require_administrator(actor, user.organization_id)
    Organization.objects.select_for_update(no_key=True).get(pk=user.organization_id)
    locked = User.objects.select_for_update(no_key=True).get(pk=user.pk)
    if (
        locked.is_administrator
        and not is_administrator
        and locked.status == Status.ACTIVE
        and not _other_active_administrators(locked).exists()
    ):
        raise LastAdministrator(
            _("%(user)s is the last active administrator of %(organization)s and must stay one.")
            % {"user": locked, "organization": locked.organization}
        )
    audit_record(
        organization=locked.organization_id,
        actor=actor,
        action=Action.RIGHTS_CHANGED,
        target=locked,
        before={"administrator": locked.is_administrator},
        after={"administrator": is_administrator},
    )
    if locked.is_administrator != is_administrator:
        locked.is_administrator = is_administrator
        locked.save(update_fields=["is_administrator", "updated_at"])
        account_links_outdated_for(user_ids=[locked.pk], reason=_("rights changed"), actor=actor)
        people_changed(locked.organization_id)  # an administrator's scope is everyone
    return locked


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

    Administrators only; the last active administrator stays one (user_set_administrator enforces it
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
    named_save(profile)
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
    named_save(profile)
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
