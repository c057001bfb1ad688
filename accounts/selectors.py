"""Reads on people that need no rights: login lookups and the cached counts of the people lists."""

import hashlib

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count

from experquiz import phones

from .models import User


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


# Counting 100,000 users takes a few milliseconds per status on PostgreSQL, too much on every page
# view: the tab counts are cached per organisation and invalidated by any write on its people
# (writes bump a version number that is part of the cache key).
COUNTS_TTL = 120


def _version_key(organization_id) -> str:
    return f"people-version:{organization_id}"


def people_version(organization_id) -> int:
    return cache.get_or_set(_version_key(organization_id), 1, None)


def people_changed(organization_id) -> None:
    """Forget cached counts of an organisation's people once the current write commits.

    Call it from any write on people, memberships or rights (they decide who is in whose scope).
    Forgotten before the commit, a page loaded in between would count the old rows and cache them
    under the new version; outside a transaction it happens at once.
    """
    transaction.on_commit(lambda: _bump_version(organization_id))


def _bump_version(organization_id) -> None:
    try:
        cache.incr(_version_key(organization_id))
    except ValueError:
        cache.set(_version_key(organization_id), 2, None)


def status_counts(queryset, *, organization_id, cache_key: str) -> dict[str, int]:
    """{status: count} over `queryset`, cached until the organisation's people change."""
    # The filters can be long and any text: hash them so the key stays short and safe for any cache.
    digest = hashlib.sha256(cache_key.encode()).hexdigest()[:32]
    key = f"people-counts:{organization_id}:{people_version(organization_id)}:{digest}"
    counts = cache.get(key)
    if counts is None:
        counts = dict(queryset.order_by().values_list("status").annotate(n=Count("pk")))
        cache.set(key, counts, COUNTS_TTL)
    return counts
