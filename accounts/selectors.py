"""Reads on people that need no rights: login lookups and the cached counts of the people lists."""

import hashlib

from django.core.cache import cache
from django.db.models import Count, F

from experquiz import phones

from .models import Organization, User


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
# view: the tab counts are cached per organisation, under a key that holds the organisation's
# `people_version`. That version lives on the organisation's row and every write on its people
# bumps it in the write's own transaction, so the moment a write commits, every process (each web
# worker, Celery worker or command, whatever its cache) reads the new version and stops using the
# counts cached before. A cache may make the page faster, never wrong: the list uses these counts as
# its total, so stale counts would hide rows. The TTL only bounds how long unused keys stay around.
COUNTS_TTL = 600


def people_version(organization_id) -> int:
    """The organisation's people version as committed now (a page reads the copy loaded with the
    request's organisation instead: see status_counts)."""
    return Organization.objects.filter(pk=organization_id).values_list("people_version", flat=True).get()


def people_changed(organization_id) -> None:
    """Outdate the cached counts of an organisation's people, as part of the current write.

    Call it from any write on people, memberships or rights (they decide who is in whose scope),
    first, before locking any person: the UPDATE bumps the version in the caller's transaction, so
    it takes effect when, and only if, the write commits, and readers see the rows and the new
    version together. It also locks the organisation's row until then, which is why it comes first:
    every service takes the organisation, then people, then their links (as user_change_status
    does), and one order means no deadlock. Outside a transaction it takes effect at once.
    """
    Organization.objects.filter(pk=organization_id).update(people_version=F("people_version") + 1)


def status_counts(queryset, *, organization: Organization, cache_key: str) -> dict[str, int]:
    """{status: count} over `queryset`, cached until the organisation's people change.

    `organization` is the request's, loaded at its start: its version was read before the rows are
    counted here, so counts are never cached under a version newer than the rows they counted (at
    worst newer rows under an older version, which nobody asks for once the newer one committed).
    """
    # The filters can be long and any text: hash them so the key stays short and safe for any cache.
    digest = hashlib.sha256(cache_key.encode()).hexdigest()[:32]
    key = f"people-counts:{organization.pk}:{organization.people_version}:{digest}"
    counts = cache.get(key)
    if counts is None:
        counts = dict(queryset.order_by().values_list("status").annotate(n=Count("pk")))
        cache.set(key, counts, COUNTS_TTL)
    return counts
