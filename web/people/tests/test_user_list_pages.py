"""The users list's pages: read from the previous page's cursor (experquiz.keyset), they show the same
rows as counting them off with OFFSET would, in every sort, both ways; typed page numbers still work;
and a damaged or stale cursor never costs more than a page read by its number."""

import html
import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory
from experquiz.keyset import Cursor
from flows.filters import SORTS

pytestmark = pytest.mark.django_db
URL = "/users/"
PER_PAGE = 25


@pytest.fixture
def crowd(alice):
    """70 more people (57 listed, 3 pages of 25): many share a name or a creation time (the id
    decides), some never logged in, some are deleted (not listed by default)."""
    now = timezone.now()
    for n in range(70):
        UserFactory(
            organization=alice.organization,
            first_name=["Ann", "Bob", "Zoé"][n % 3],
            last_name=["Durand", "Émery", "Martin", "Martin"][n % 4],
            status=["active", "inactive", "created", "invited", "deleted"][n % 5] if n else "active",
            last_login=None if n % 4 == 0 else now - timedelta(days=n % 7),
        )
    # Same creation time for a third of them: only the id tells them apart.
    User.objects.filter(organization=alice.organization, first_name="Ann").update(created_at=now)
    return alice.organization


def ids(response) -> list[int]:
    return [row.pk for row in response.context["users"]]


def expected(alice, sort, number, **filters) -> list[int]:
    """Page `number` as Django's OFFSET slicing of the same filtered, ordered list gives it."""
    from flows.filters import UserFilter
    from rights.selectors import users_in_scope

    filterset = UserFilter({"sort": sort, **filters}, queryset=users_in_scope(alice), actor=alice)
    assert filterset.is_valid()
    users = filterset.qs.values_list("pk", flat=True)
    return list(users[(number - 1) * PER_PAGE : number * PER_PAGE])


def link(response, rel) -> str:
    match = re.search(rf'href="\?([^"]*)" rel="{rel}"', response.content.decode())
    return html.unescape(match.group(1)) if match else ""


@pytest.mark.parametrize("sort", list(SORTS))
def test_next_and_previous_show_the_pages_offset_would_in_every_sort(alice_client, alice, crowd, sort):
    response = alice_client.get(URL, {"sort": sort})
    assert response.context["page"].num_pages == 3
    assert ids(response) == expected(alice, sort, 1)
    for number in (2, 3):
        response = alice_client.get(f"{URL}?{link(response, 'next')}")
        assert response.context["page"].number == number
        assert ids(response) == expected(alice, sort, number)
    assert not link(response, "next")
    for number in (2, 1):
        response = alice_client.get(f"{URL}?{link(response, 'prev')}")
        assert ids(response) == expected(alice, sort, number)
    assert not link(response, "prev")


@pytest.mark.parametrize("filters", [{"q": "martin"}, {"status": "inactive"}, {"q": "zo", "status": "active"}])
def test_pages_of_a_filtered_list_follow_the_filter(alice_client, alice, crowd, filters):
    for sort in ("name", "-status", "-last_login"):
        response = alice_client.get(URL, {"sort": sort, "per_page": 25, **filters})
        seen = ids(response)
        while next_query := link(response, "next"):
            response = alice_client.get(f"{URL}?{next_query}")
            seen += ids(response)
        everyone = expected(alice, sort, 1, **filters) + expected(alice, sort, 2, **filters)
        assert seen == everyone, (sort, filters)


@pytest.fixture
def pages_of_five(monkeypatch):
    from web.people import views_users

    monkeypatch.setattr(views_users, "PAGE_SIZES", [5, *views_users.PAGE_SIZES])


def five(alice, sort, number) -> list[int]:
    return expected(alice, sort, 1 + (number - 1) // 5)[(number - 1) % 5 * 5 :][:5]


def test_the_numbered_links_near_the_page_read_from_its_cursor(alice_client, alice, crowd, pages_of_five):
    response = alice_client.get(URL, {"sort": "-created", "per_page": 5})
    last = response.context["page"].num_pages
    assert last == 12  # 57 people listed (Alice and 56 of the crowd not deleted)
    pagination = response.context["pagination"]
    assert [item and item[0] for item in pagination["pages"]] == [1, 2, 3, None, last]
    response = alice_client.get(f"{URL}?{pagination['pages'][2][1]}")  # page 3, two pages ahead
    assert response.context["page"].number == 3
    assert ids(response) == five(alice, "-created", 3)
    pagination = response.context["pagination"]
    assert [item and item[0] for item in pagination["pages"]] == [1, 2, 3, 4, 5, None, last]
    assert "cursor" not in pagination["pages"][0][1] + pagination["pages"][-1][1]  # by number, from their end
    back = alice_client.get(f"{URL}?{pagination['pages'][0][1]}")
    assert ids(back) == five(alice, "-created", 1)
    end = alice_client.get(f"{URL}?{pagination['pages'][-1][1]}")
    assert end.context["page"].number == last
    assert ids(end) == five(alice, "-created", last)
    assert ids(alice_client.get(f"{URL}?{link(end, 'prev')}")) == five(alice, "-created", last - 1)


def test_a_page_reached_by_a_link_skips_no_rows(alice_client, crowd):
    response = alice_client.get(URL, {"sort": "-last_login"})
    with CaptureQueriesContext(connection) as queries:
        alice_client.get(f"{URL}?{link(response, 'next')}")
    page_query = next(q["sql"] for q in queries if "keyset_0" in q["sql"])
    assert "OFFSET" not in page_query.upper()
    assert "COALESCE" in page_query.upper()  # the key the last-login index is built on
    # The users table alone: a join let PostgreSQL, misjudging how many rows follow the cursor when
    # the cursor's first key is a frequent value ("active"), read them all and sort (400 ms at 100k).
    assert "JOIN" not in page_query.upper()


def test_typed_page_numbers_still_work_from_either_end(alice_client, alice, crowd):
    assert ids(alice_client.get(URL, {"page": 2})) == expected(alice, "name", 2)
    assert ids(alice_client.get(URL, {"page": 3})) == expected(alice, "name", 3)
    assert alice_client.get(URL, {"page": 99}).context["page"].number == 3
    assert alice_client.get(URL, {"page": "x"}).context["page"].number == 1


@pytest.mark.parametrize("sort", list(SORTS))
@pytest.mark.parametrize("filters", [{}, {"status": "inactive"}, {"q": "martin"}, {"q": "zo", "status": "active"}])
def test_a_typed_page_that_skips_many_rows_skips_them_by_their_keys_alone(
    alice_client, alice, crowd, monkeypatch, sort, filters
):
    """Past experquiz.keyset.DEFERRED_OFFSET rows skipped, the skipping is a subquery of primary keys
    (here from the first row on): the same pages, from either end of the list."""
    from experquiz import keyset

    monkeypatch.setattr(keyset, "DEFERRED_OFFSET", 1)
    for number in (2, 3):
        with CaptureQueriesContext(connection) as queries:
            response = alice_client.get(URL, {"sort": sort, "page": number, **filters})
        page, total = response.context["page"].number, response.context["total"]  # past the end: the last
        assert ids(response) == expected(alice, sort, page, **filters)
        skipped = min((page - 1) * PER_PAGE, max(total - page * PER_PAGE, 0))  # from the nearer end
        page_query = next(q["sql"] for q in queries.captured_queries if "keyset_0" in q["sql"])
        assert ("IN (SELECT" in page_query) == (skipped >= 1)


def test_the_go_to_page_box_keeps_the_filters(alice_client, crowd):
    content = alice_client.get(URL, {"q": "martin", "sort": "-name", "page": 2}).content.decode()
    box = content[content.index('aria-label="Go to a page"') :]
    box = box[: box.index("</form>")]
    assert 'name="q" value="martin"' in box and 'name="sort" value="-name"' in box
    assert 'name="cursor"' not in box and 'value="2"' in box


def test_links_that_change_the_list_forget_where_the_page_was(alice_client, crowd):
    response = alice_client.get(URL)
    response = alice_client.get(f"{URL}?{link(response, 'next')}")
    context = response.context
    assert "cursor=" in link(response, "next") and "cursor=" in link(response, "prev")
    for query in [tab["query"] for tab in context["tabs"]] + [c["query"] for c in context["columns"] if c["query"]]:
        assert "cursor" not in query and "page" not in query
    assert "cursor" not in context["query_without_page"]


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "%%%",
        "W10",  # []
        Cursor("name", PER_PAGE, 1, True, ("Martin", "Zoé", 10**30)).token(),
        Cursor("name", PER_PAGE, 1, True, ("Mar\x00tin", "Zoé", 1)).token(),
        Cursor("name", PER_PAGE, 1, True, (5, "Zoé", 1)).token(),
        Cursor("name", 50, 1, True, ("Martin", "Zoé", 1)).token(),
        Cursor("-name", PER_PAGE, 1, True, ("Martin", "Zoé", 1)).token(),
        Cursor("created", PER_PAGE, 1, True, (timezone.now().replace(tzinfo=None), 1)).token(),
        "A" * 5000,
    ],
)
def test_a_damaged_or_foreign_cursor_is_ignored_not_a_500(alice_client, alice, crowd, cursor):
    sort = "created" if "created" in html.unescape(cursor) else "name"
    response = alice_client.get(URL, {"page": 2, "cursor": cursor, "sort": sort})
    assert response.status_code == 200
    assert ids(response) == expected(alice, sort, 2)


def test_a_cursor_past_the_people_left_shows_the_page_by_its_number(alice_client, alice, crowd):
    response = alice_client.get(URL, {"page": 2})
    next_query = link(response, "next")
    last_name_seen = response.context["users"][-1].last_name
    User.objects.filter(organization=alice.organization, last_name__gt=last_name_seen).delete()
    User.objects.filter(organization=alice.organization, last_name=last_name_seen).delete()
    response = alice_client.get(f"{URL}?{next_query}")
    assert response.status_code == 200
    assert response.context["users"]  # the last page there is, not an empty one


@pytest.mark.parametrize("size", [25, 200])
def test_a_deep_page_reached_by_a_link_costs_at_most_eight_queries(alice_client, crowd, size):
    response = alice_client.get(URL, {"sort": "-last_login", "per_page": 25, "type": "", "q": "a"})
    with CaptureQueriesContext(connection) as queries:
        response = alice_client.get(f"{URL}?{link(response, 'next')}")
    assert response.status_code == 200
    assert len(queries) <= 8, [q["sql"][:80] for q in queries]


def test_a_filtered_list_that_is_a_small_share_of_the_organisation_is_sorted_after_filtering(alice, crowd):
    """Reading the name index in order and checking each person against a filter reads about
    (page × people ÷ matches) rows, and everything before a surname's block when the matches sit
    together: past 5,000 matches, the list still filters first when they are at most 5 % of it."""
    from flows.filters import UserFilter
    from rights.selectors import users_in_scope
    from web.people.views_users import list_order

    filterset = UserFilter({"q": "martin"}, queryset=users_in_scope(alice), actor=alice)
    assert filterset.is_valid()
    fenced = list_order(filterset, 6_000, 1_000_000).keys[0]
    assert not isinstance(fenced, str)  # `last_name || ''`: no index gives it
    assert list_order(filterset, 6_000, 20_000).keys[0] == "last_name"
    assert list_order(filterset, 6_000, None).keys[0] == "last_name"
    assert not isinstance(list_order(filterset, 4_000, None).keys[0], str)


def test_the_filtered_counts_say_how_many_people_the_organisation_lists(alice_client, crowd):
    response = alice_client.get(URL, {"q": "zoé"})
    assert response.context["total"] == 19  # Zoé, not deleted (every third of the 70, some deleted)
    from accounts.selectors import status_counts

    counts, listed, _word = status_counts(
        lambda: User.objects.filter(organization=crowd, first_name="Zoé"), organization=crowd, cache_key="test"
    )
    assert listed == 57 and sum(counts.values()) == 23


def test_the_filtered_counts_build_their_queryset_only_when_not_cached(crowd):
    """The counts of a filtered list are read from the cache without building the filters' queryset
    again (it cost more than the cache)."""
    from accounts.selectors import status_counts

    cache.clear()
    built = []

    def people():
        built.append(1)
        return User.objects.filter(organization=crowd, first_name="Zoé")

    first = status_counts(people, organization=crowd, cache_key="built-once")
    second = status_counts(people, organization=crowd, cache_key="built-once")
    assert first == second and sum(first[0].values()) == 23
    assert len(built) == 1


def test_a_process_remembers_the_counts_it_read_until_the_people_change(crowd):
    """Each process keeps the counts it read in front of the shared cache, under the same key: gone
    from the shared cache, they are still not counted again; once the people change (a new people
    version, read by the request), they are counted again, in every process."""
    from accounts.selectors import organization_by_slug, people_changed, status_counts

    built = []

    def people():
        built.append(1)
        return User.objects.filter(organization=crowd, first_name="Zoé")

    def counts():
        return status_counts(people, organization=organization_by_slug(crowd.slug), cache_key="remembered")

    first = counts()
    cache.clear()  # the shared cache emptied: this process still knows them
    assert counts() == first and len(built) == 1
    User.objects.filter(organization=crowd, first_name="Zoé", status="active").update(status="inactive")
    people_changed(crowd.pk)
    changed = counts()
    assert len(built) == 2 and changed != first
    assert changed[0]["inactive"] == first[0]["inactive"] + first[0]["active"]


def test_each_row_shows_its_groups_whether_its_page_skips_rows_or_not(alice_client, crowd, lyon, paris):
    """A page that skips no row reads its people's groups within the page query (PostgreSQL); a page
    typed by number, whose query skips rows, reads them apart: every row shows its groups either way."""
    from accounts.tests.factories import MembershipFactory

    listed = User.objects.filter(organization=crowd).exclude(status="deleted")
    for n, person in enumerate(listed.order_by("pk")):
        for group in ([lyon], [paris], [lyon, paris], [])[n % 4]:
            MembershipFactory(group=group, user=person)
    held = {person.pk: sorted(person.user_groups.values_list("name", flat=True)) for person in listed}

    def shown(query):
        with CaptureQueriesContext(connection) as queries:
            response = alice_client.get(f"{URL}?{query}")
        rows = {row.pk: row.groups for row in response.context["users"]}
        apart = any("usergroups_membership" in q["sql"] and "keyset_0" not in q["sql"] for q in queries)
        return response, rows, apart

    first, rows, apart = shown("")
    assert rows and rows == {pk: held[pk] for pk in rows} and any(rows.values())
    assert apart == (connection.vendor != "postgresql")
    _response, rows, apart = shown(link(first, "next"))  # from the first page's cursor: no row skipped
    assert rows and rows == {pk: held[pk] for pk in rows}
    assert apart == (connection.vendor != "postgresql")
    _response, rows, apart = shown("page=2")  # typed: the query skips the first 25 rows
    assert rows and rows == {pk: held[pk] for pk in rows}
    assert apart
