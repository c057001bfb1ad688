"""The list filtered by a group, a search, a type or several shows, in every sort and both
directions, page by page (Next, Previous, a typed number), exactly the rows a plain ORM `order_by` on
the users' own columns gives: whatever index or copied key the list's query reads its order from (a
group's pages come from its memberships' copy of the member's name, flows.filters.MEMBER_NAME_KEYS,
and are checked against a type on their copy of the member's type)."""

import html
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import MembershipFactory, UserFactory, UserTypeFactory
from flows.filters import MEMBER_NAME_VENDORS, SORTS

pytestmark = pytest.mark.django_db
URL = "/users/"
PER_PAGE = 5

# The users' own columns for each sort, ascending; "never logged in" comes before every login.
PLAIN = {
    "name": [F("last_name").asc(), F("first_name").asc(), F("pk").asc()],
    "status": [F("status").asc(), F("last_name").asc(), F("first_name").asc(), F("pk").asc()],
    "created": [F("created_at").asc(), F("pk").asc()],
    "last_login": [F("last_login").asc(nulls_first=True), F("pk").asc()],
}


def plain_order(sort: str):
    if not sort.startswith("-"):
        return PLAIN[sort]
    return [key.copy().reverse_ordering() for key in PLAIN[sort[1:]]]


@pytest.fixture
def pages_of_five(monkeypatch):
    from web.people import views_users

    monkeypatch.setattr(views_users, "PAGE_SIZES", [PER_PAGE, *views_users.PAGE_SIZES])


@pytest.fixture
def town(alice, lyon, paris):
    """48 people: shared names (the id decides), accents, every status, two types, some never logged
    in, most in Lyon or Paris or both; some renamed after joining their groups."""
    acme = alice.organization
    trainee = UserTypeFactory(organization=acme, name="Trainee")
    now = timezone.now()
    people = []
    for n in range(48):
        person = UserFactory(
            organization=acme,
            first_name=["Ann", "Bob", "Zoé", "Marc"][n % 4],
            last_name=["Durand", "Émery", "Martin", "Martin", "Marchal", "Ziegler"][n % 6],
            status=["active", "inactive", "created", "invited", "deleted", "active"][n % 6 - 1],
            last_login=None if n % 5 == 0 else now - timedelta(days=n % 7),
            user_type=trainee if n % 3 else None,
        )
        if n % 4 != 3:
            MembershipFactory(group=lyon, user=person)
        if n % 3 == 0:
            MembershipFactory(group=paris, user=person)
        people.append(person)
    # Same creation time for a quarter of them: only the id tells them apart.
    User.objects.filter(organization=acme, first_name="Ann").update(created_at=now)
    # Renamed after joining: their memberships must follow.
    for person in people[::7]:
        person.last_name = "Marbot" if person.last_name != "Marbot" else "Durand"
        person.save()
    # A new email after joining that alone makes them match "mar": their memberships' copy of the
    # search text must follow (a group and a search read it).
    for n in (1, 5, 6, 12, 13, 18):
        people[n].email = f"marquis.{n}@example.com"
        people[n].save()
    # A new type after joining: their memberships' copy of the type must follow (a group and a type
    # read it, groups migrations 0008–0009).
    for person in people[2::5]:
        person.user_type = None if person.user_type else trainee
        person.save()
    return {"trainee": trainee}


def ids(response) -> list[int]:
    return [row.pk for row in response.context["users"]]


def link(response, rel) -> str:
    match = re.search(rf'href="\?([^"]*)" rel="{rel}"', response.content.decode())
    return html.unescape(match.group(1)) if match else ""


def expected(alice, sort, *, group=None, q="", status="", user_type=None) -> list[int]:
    users = User.objects.filter(organization=alice.organization)
    users = users.filter(status=status) if status else users.exclude(status="deleted")
    if group is not None:
        users = users.filter(pk__in=group.memberships.values("user_id"))
    for term in q.split():
        users = users.filter(search_text__contains=term)
    if user_type is not None:
        users = users.filter(user_type=user_type)
    return list(users.order_by(*plain_order(sort)).values_list("pk", flat=True))


# Searches that one known word serves on PostgreSQL (accounts.search.word_term): the name sorts read
# that word's people from their words, in name order (flows.filters.WORD_NAME_KEYS). "mar" is in
# several words (Martin, Marchal, Marc, Marbot, marquis): it is searched as before.
WORD_CASES = {
    "a whole word": {"q": "martin"},
    "part of one word": {"q": "urand"},
    "a word and a letter": {"q": "martin a"},
    "a word and a status": {"q": "MARTIN", "status": "inactive"},
}


@pytest.mark.parametrize("sort", list(SORTS))
@pytest.mark.parametrize("case", ["group", "search", "group and search", "group and type", "every filter", *WORD_CASES])
def test_every_sort_of_a_filtered_list_shows_the_plain_orm_order(
    alice_client, alice, lyon, town, pages_of_five, sort, case
):
    filters = {
        "group": {"group": lyon},
        "search": {"q": "mar"},
        "group and search": {"group": lyon, "q": "mar"},
        "group and type": {"group": lyon, "user_type": town["trainee"]},
        "every filter": {"group": lyon, "q": "mar", "status": "active", "user_type": town["trainee"]},
        **WORD_CASES,
    }[case]
    rows = expected(alice, sort, **{**filters, "q": filters.get("q", "").lower()})
    assert len(rows) > 2 * PER_PAGE or (case not in ("group", "search", "group and search") and rows), len(rows)
    params = {"sort": sort, "per_page": PER_PAGE}
    params |= {key: value.pk for key, value in filters.items() if key in ("group",)}
    params |= {"type": filters["user_type"].pk} if "user_type" in filters else {}
    params |= {key: filters[key] for key in ("q", "status") if key in filters}
    with CaptureQueriesContext(connection) as queries:
        response = alice_client.get(URL, params)
    from_words = any("accounts_searchword" in query["sql"] for query in queries.captured_queries)
    assert from_words == (case in WORD_CASES and sort in ("name", "-name") and connection.vendor == "postgresql")
    # A group's members are checked against the type on their memberships' copy of it.
    on_copied_type = any("member_type_id" in query["sql"] for query in queries.captured_queries)
    assert on_copied_type == (
        "group" in filters and "user_type" in filters and connection.vendor in MEMBER_NAME_VENDORS
    )
    seen = ids(response)
    while query := link(response, "next"):
        response = alice_client.get(f"{URL}?{query}")
        seen += ids(response)
    assert seen == rows
    # Back to the first page by Previous, from the last one.
    back = ids(response)
    while query := link(response, "prev"):
        response = alice_client.get(f"{URL}?{query}")
        back = ids(response) + back
    assert back == rows
    # A page typed in the address (past the end: the last page).
    assert ids(alice_client.get(URL, {**params, "page": 2})) == (rows[PER_PAGE : 2 * PER_PAGE] or rows[:PER_PAGE])
