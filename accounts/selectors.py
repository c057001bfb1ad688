"""Reads on people that need no rights: login lookups and the counts of the people lists."""

import functools
import hashlib

from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection
from django.db.models import BooleanField, Count, F, Value
from django.db.models.functions import Cast

from experquiz import phones
from experquiz.sql_rows import Statement, Table

from .models import KnownWord, Organization, PeopleChange, PeopleVersion, StatusCount, User, UserType


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
# view. The unfiltered list of a whole organisation reads the counts the database keeps at every write
# (StatusCount, below); the tab counts of a filtered list are counted, and cached per organisation
# under a key that holds the organisation's people version (PeopleVersion). Every write on its
# people bumps that version when, and only if, it commits, so from that moment every process (each
# web worker, Celery worker or command, whatever its cache) reads the new version and stops using
# the counts cached before. A cache may make the page faster, never wrong: the list uses these counts
# as its total, so stale counts would hide rows. The TTL only bounds how long unused keys stay around.
COUNTS_TTL = 600
# Each process keeps the answers it read or counted, under the same keys, in front of the shared
# cache: a worker that shows a filtered list again reads its counts from memory instead of from
# Redis (a round trip). As safe as the shared cache: a key holds the people version the request read
# from the database, so a change of the people is a new key, in every process at once. Django's
# local-memory cache: thread-safe, and it drops entries beyond MAX_ENTRIES.
_REMEMBERED_COUNTS = LocMemCache("experquiz-people-counts", {"TIMEOUT": COUNTS_TTL, "OPTIONS": {"MAX_ENTRIES": 1000}})


def forget_remembered_counts():
    """Empty this process's copy of the counts (tests that empty the shared cache empty this too:
    their databases start their people versions again)."""
    _REMEMBERED_COUNTS.clear()


def people_version(organization_id) -> int:
    """The organisation's people version as committed now."""
    return PeopleVersion.objects.filter(organization_id=organization_id).values_list("version", flat=True).first() or 0


@functools.cache
def _organization_by_slug_sql() -> tuple[Table, Statement]:
    organization, version = Table(Organization, "o"), Table(PeopleVersion, "v")
    # Only names from the models go into the text; the slug is a parameter.
    sql = (
        f"SELECT {organization.columns}, COALESCE({version.column('version')}, 0) FROM {organization.source}"  # noqa: S608
        f" LEFT JOIN {version.source} ON {version.column('organization')} = {organization.column('id')}"
        f" WHERE {organization.column('slug')} = %s"
    )
    return organization, Statement("experquiz_organization_by_slug", sql)


USER_TYPE_CHOICES = Statement(
    "experquiz_user_type_choices",
    f"SELECT id, name FROM {UserType._meta.db_table} WHERE organization_id = %s ORDER BY name",  # noqa: S608
)
# The counts kept for one organisation (`kept_status_counts`), as (status, count) rows.
KEPT_STATUS_COUNTS = Statement(
    "experquiz_kept_status_counts",
    f"SELECT status, count FROM {StatusCount._meta.db_table} WHERE organization_id = %s",  # noqa: S608
)


def user_type_choices(organization) -> list[tuple[int, str]]:
    """(pk, name) of the organisation's user types by name: the lists' type menus, read on every page
    of the people list, with SQL written once per process on PostgreSQL."""
    if organization is None:
        return []
    if connection.vendor == "postgresql":
        return USER_TYPE_CHOICES.fetchall([organization.pk])
    return list(UserType.objects.for_org(organization).order_by("name").values_list("pk", "name"))


def organization_by_slug(slug: str) -> Organization | None:
    """The organisation served on `slug`'s host, with its people version read in the same statement
    as `people_version` (see `status_counts`), or None.

    The tenant middleware reads it on every request: one statement, written once per process
    (experquiz.sql_rows), where the queryset cost a millisecond of CPU to compile each time.
    """
    organization, statement = _organization_by_slug_sql()
    row = statement.fetchone([slug])
    if row is None:
        return None
    found = organization.build(row)
    found.people_version = row[len(organization)]
    return found


def people_changed(organization_id) -> None:
    """Outdate the cached counts of an organisation's people, as part of the current write.

    Call it from any write on people, memberships or rights (they decide who is in whose scope).
    The version changes when the write commits, and only if it does: readers see the rows and the
    new version together. On PostgreSQL the call only notes the change, and a deferred trigger bumps
    the version at the commit (migration 0007): the version's row is locked for that instant only,
    after every other lock of the transaction, so writers never queue behind each other's whole
    transaction and the lock cannot close a deadlock. SQLite writes one transaction at a time: there
    the row is bumped at once. Outside a transaction the change is committed at once either way.
    """
    if connection.vendor == "postgresql":
        PeopleChange.objects.create(organization_id=organization_id)
        return
    if not PeopleVersion.objects.filter(organization_id=organization_id).update(version=F("version") + 1):
        PeopleVersion.objects.get_or_create(organization_id=organization_id, defaults={"version": 1})


def status_counts(
    people, *, organization: Organization, cache_key: str, word_term: str = ""
) -> tuple[dict[str, int], int | None, str]:
    """{status: count} over the users `people()` returns, how many people the organisation lists (all
    but the deleted, from the counts kept at every write; None where the database keeps none), and the
    one known word of the organisation containing `word_term` ("" if none or several;
    accounts.search.word_term), read in one query and cached until the organisation's people change (a
    word new to the organisation is a change of its people).

    `people` is called only when the answer is not cached: building the filters' queryset cost more
    than reading the cache. `organization` is the request's, loaded at its start with its people
    version (see organization_by_slug): the version is read before the rows are counted here, so
    counts are never cached under a version newer than the rows they counted (at worst newer rows
    under an older version, which nobody asks for once the newer one has committed).
    """
    version = getattr(organization, "people_version", None)
    if version is None:
        version = people_version(organization.pk)
    # The filters can be long and any text: hash them so the key stays short and safe for any cache.
    digest = hashlib.sha256(cache_key.encode()).hexdigest()[:32]
    # "words": the answer also holds the known word (a cache filled by an older release has no such
    # key, and is never read as this one).
    key = f"people-counts:words:{organization.pk}:{version}:{digest}"
    answer = _REMEMBERED_COUNTS.get(key)
    if answer is not None:
        return answer
    answer = cache.get(key)
    if answer is None:
        # COUNT(*), not COUNT(id): a filter whose index holds the status (type: accounts migration
        # 0014) is then counted from the index alone.
        counted = people().order_by().values("status").annotate(n=Count("*"), kept=Value(False))
        rows = counted.values_list("kept", "status", "n")
        kept = kept_status_counts()
        if kept is not None:
            listed = kept.filter(organization=organization).exclude(status=User.Status.DELETED)
            rows = rows.union(listed.annotate(kept=Value(True)).values_list("kept", "status", "count"), all=True)
        if word_term and connection.vendor in KNOWN_WORDS_VENDORS:
            # Two are enough to know it is not one; `kept` NULL tells these rows apart.
            known = KnownWord.objects.filter(organization=organization, word__contains=word_term)
            known = known.values_list(Cast(Value(None), BooleanField()), "word", Value(0)).distinct()
            rows = rows.union(known[:2], all=True)
        rows = list(rows)
        counts = {status: n for is_kept, status, n in rows if is_kept is False}
        listed = sum(n for is_kept, _status, n in rows if is_kept) if kept is not None else None
        words = [word for is_kept, word, _n in rows if is_kept is None]
        answer = counts, listed, words[0] if len(words) == 1 else ""
        cache.set(key, answer, COUNTS_TTL)
    _REMEMBERED_COUNTS.set(key, answer)
    return answer


# The databases whose triggers keep accounts.SearchWord and KnownWord (migration 0015).
KNOWN_WORDS_VENDORS = ("postgresql",)
# The databases whose triggers keep accounts.StatusCount (migration 0011).
KEPT_COUNTS_VENDORS = ("postgresql", "sqlite")


def kept_status_counts():
    """The per-organisation status counts the database keeps at every write (StatusCount), as a
    queryset of (status, count) rows to filter by organisation; None on a database without the
    triggers that keep them."""
    if connection.vendor not in KEPT_COUNTS_VENDORS:
        return None
    return StatusCount.objects.values_list("status", "count")
