"""Reads that depend on who asks or on how people type things."""

from django.core.cache import cache
from django.db.models import Count, Prefetch

from . import phones
from .models import Contact, User


def user_by_login_id(organization, login_id: str) -> User | None:
    """The user of `organization` whose email or mobile is `login_id`, typed any usual way.

    `organization` None means platform staff (the bare domain). Emails are stored lower-cased, so
    the lookup is exact and uses the unique index.
    """
    login_id = (login_id or "").strip()
    if not login_id:
        return None
    users = User.objects.filter(organization=organization)
    if "@" in login_id:
        return users.filter(email=login_id.lower()).first()
    if organization is None or not phones.looks_like_phone(login_id):
        return None
    try:
        mobile = phones.to_e164(login_id, organization.phone_region)
    except phones.InvalidPhoneNumber:
        return None
    return users.filter(mobile=mobile).first()


def actor_has_right(actor: User, right: str) -> bool:
    """Whether `actor` holds `right` over at least some users (drives navigation and 403s)."""
    if actor is None or not actor.is_authenticated or actor.organization_id is None:
        return False
    return bool(actor.is_administrator)


def users_in_scope(actor: User, right: str = "manage_users"):
    """The users `actor` may exercise `right` on. Every list, detail and bulk action starts here.

    For now administrators hold every right over their whole organisation and nobody else holds
    any; group-scoped grants extend this one function.
    """
    if actor is None or not actor.is_authenticated or actor.organization_id is None:
        return User.objects.none()
    if actor.is_administrator:
        return User.objects.filter(organization_id=actor.organization_id)
    return User.objects.none()


# Counting 100,000 users takes a few milliseconds per status on PostgreSQL, too much on every page
# view: the tab counts are cached per organisation and invalidated by any write on its people
# (writes bump a version number that is part of the cache key).
COUNTS_TTL = 120


def _version_key(organization_id) -> str:
    return f"people-version:{organization_id}"


def people_version(organization_id) -> int:
    return cache.get_or_set(_version_key(organization_id), 1, None)


def people_changed(organization_id) -> None:
    """Forget cached counts of an organisation's people (call after any write on them)."""
    try:
        cache.incr(_version_key(organization_id))
    except ValueError:
        cache.set(_version_key(organization_id), 2, None)


def status_counts(queryset, *, organization_id, cache_key: str) -> dict[str, int]:
    """{status: count} over `queryset`, cached until the organisation's people change."""
    key = f"people-counts:{organization_id}:{people_version(organization_id)}:{cache_key}"
    counts = cache.get(key)
    if counts is None:
        counts = dict(queryset.order_by().values_list("status").annotate(n=Count("pk")))
        cache.set(key, counts, COUNTS_TTL)
    return counts


def people_for_list(queryset):
    """What a page of the people list shows, in a fixed number of queries whatever the page size."""
    from groups.models import UserGroup

    return queryset.select_related("user_type").prefetch_related(
        Prefetch("user_groups", queryset=UserGroup.objects.only("id", "name").order_by("name"))
    )


def contacts_in_scope(actor: User, right: str = "manage_users"):
    """The contacts `actor` may manage: contacts belong to no group, so only organisation-wide holders."""
    if not actor_has_right(actor, right):
        return Contact.objects.none()
    return Contact.objects.filter(organization_id=actor.organization_id)
