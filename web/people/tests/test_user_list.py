import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import formats, timezone

from accounts.models import User
from accounts.tests.factories import MembershipFactory, UserFactory, UserGroupFactory, UserTypeFactory

pytestmark = pytest.mark.django_db
URL = reverse("accounts:user_list")


def names(response):
    return sorted(user.first_name for user in response.context["users"])


@pytest.fixture
def people(alice):
    """A small organisation: statuses, a type, a group, accents and phone numbers."""
    org = alice.organization
    employee = UserTypeFactory(organization=org, name="Employee")
    sales = UserGroupFactory(organization=org, name="Sales")
    users = {
        "Élodie": UserFactory(organization=org, first_name="Élodie", last_name="Lefèvre", user_type=employee),
        "Marc": UserFactory(
            organization=org, first_name="Marc", last_name="Dupont", status="inactive", mobile="+33612345678"
        ),
        "Nina": UserFactory(organization=org, first_name="Nina", last_name="Roux", status="created"),
        "Omar": UserFactory(
            organization=org, first_name="Omar", last_name="Said", status="invited", user_type=employee
        ),
        "Paul": UserFactory(organization=org, first_name="Paul", last_name="Gone", status="deleted"),
    }
    for name in ("Élodie", "Marc", "Paul"):
        MembershipFactory(group=sales, user=users[name])
    return {"users": users, "employee": employee, "sales": sales}


def test_the_list_shows_every_user_but_the_deleted_by_default(alice_client, people):
    response = alice_client.get(URL)
    assert response.status_code == 200
    assert names(response) == ["Alice", "Marc", "Nina", "Omar", "Élodie"]


@pytest.mark.parametrize(
    ("status", "expected"),
    [("active", ["Alice", "Élodie"]), ("inactive", ["Marc"]), ("created", ["Nina"]), ("invited", ["Omar"]),
     ("deleted", ["Paul"])],
)  # fmt: skip
def test_filter_by_status(alice_client, people, status, expected):
    assert names(alice_client.get(URL, {"status": status})) == expected


def test_filter_by_group_hides_deleted_members_unless_asked(alice_client, people):
    group = people["sales"].pk
    assert names(alice_client.get(URL, {"group": group})) == ["Marc", "Élodie"]
    assert names(alice_client.get(URL, {"group": group, "status": "deleted"})) == ["Paul"]


def test_filter_by_type(alice_client, people):
    assert names(alice_client.get(URL, {"type": people["employee"].pk})) == ["Omar", "Élodie"]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("elodie", ["Élodie"]),
        ("LEFEVRE", ["Élodie"]),
        ("élo lef", ["Élodie"]),
        ("06 12 34 56 78", ["Marc"]),
        ("+33 6 12 34 56 78", ["Marc"]),
        ("0033612345678", ["Marc"]),
        ("0612", ["Marc"]),
        ("alice@acme", ["Alice"]),
        ("nobody", []),
    ],
)
def test_free_text_search_ignores_case_and_accents_and_reads_phones_any_way(alice_client, people, q, expected):
    assert names(alice_client.get(URL, {"q": q})) == expected


def test_filters_combine(alice_client, people):
    response = alice_client.get(URL, {"status": "active", "group": people["sales"].pk, "q": "lef"})
    assert names(response) == ["Élodie"]
    response = alice_client.get(URL, {"status": "invited", "type": people["employee"].pk, "group": people["sales"].pk})
    assert names(response) == []


def test_tab_counts_follow_the_other_filters(alice_client, people):
    response = alice_client.get(URL)
    counts = {tab["value"]: tab["count"] for tab in response.context["tabs"]}
    assert counts == {"": 5, "created": 1, "invited": 1, "active": 2, "inactive": 1, "deleted": 1}
    response = alice_client.get(URL, {"group": people["sales"].pk})
    counts = {tab["value"]: tab["count"] for tab in response.context["tabs"]}
    assert counts == {"": 2, "created": 0, "invited": 0, "active": 1, "inactive": 1, "deleted": 1}


def test_tab_counts_are_refreshed_after_a_status_change(
    alice_client, alice, people, django_capture_on_commit_callbacks
):
    from accounts.services import user_change_status

    alice_client.get(URL)
    with django_capture_on_commit_callbacks(execute=True):
        user_change_status(user=people["users"]["Nina"], to="active", actor=alice)
    counts = {tab["value"]: tab["count"] for tab in alice_client.get(URL).context["tabs"]}
    assert counts["created"] == 0 and counts["active"] == 3


@pytest.mark.parametrize(
    ("sort", "first"), [("name", "Alice"), ("-name", "Omar"), ("-created", "Omar"), ("created", "Alice")]
)
def test_sorting(alice_client, people, sort, first):
    response = alice_client.get(URL, {"sort": sort})
    assert response.context["users"][0].first_name == first


def test_pagination_and_page_size_keep_the_filters(alice_client, alice):
    for n in range(30):
        UserFactory(organization=alice.organization, first_name=f"P{n:02d}", last_name="Zed")
    response = alice_client.get(URL, {"q": "zed", "per_page": 25, "page": 2})
    assert len(response.context["users"]) == 5
    assert response.context["page"].count == 30
    assert "q=zed" in response.context["query_without_page"]
    assert len(alice_client.get(URL, {"q": "zed", "per_page": 50}).context["users"]) == 30


def test_the_query_count_does_not_grow_with_the_page_size(alice_client, alice):
    groups = [UserGroupFactory(organization=alice.organization) for _ in range(3)]
    type_ = UserTypeFactory(organization=alice.organization)
    for n in range(120):
        user = UserFactory(organization=alice.organization, user_type=type_)
        MembershipFactory(group=groups[n % 3], user=user)
    alice_client.get(URL)  # warm the cached counts
    counts = []
    for size in (25, 100):
        with CaptureQueriesContext(connection) as queries:
            response = alice_client.get(URL, {"per_page": size})
        assert len(response.context["users"]) == size
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert counts[0] <= 10


def test_bad_filter_values_are_ignored_with_a_message_not_a_500(alice_client, people):
    response = alice_client.get(
        URL, {"status": "bogus", "group": "abc", "type": "999999", "per_page": "7", "page": "x"}
    )
    assert response.status_code == 200
    assert "not understood" in response.content.decode()


@pytest.mark.parametrize("per_page", ["²", "٥٠", " 50", "+50", "5_0", "9" * 30])
def test_a_page_size_that_is_not_plain_digits_shows_the_default_size(alice_client, people, per_page):
    response = alice_client.get(URL, {"per_page": per_page})
    assert response.status_code == 200
    assert response.context["page"].per_page == 25


def test_names_with_html_are_shown_escaped(alice_client, alice):
    UserFactory(organization=alice.organization, first_name="<script>alert(1)</script>", last_name="X")
    content = alice_client.get(URL).content.decode()
    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content


def test_other_tenants_users_and_groups_never_show(alice_client, people, mallory):
    foreign_group = UserGroupFactory(organization=mallory.organization, name="Foreign")
    response = alice_client.get(URL)
    assert "Mallory" not in response.content.decode()
    assert "Foreign" not in response.content.decode()
    response = alice_client.get(URL, {"group": foreign_group.pk})
    assert "not understood" in response.content.decode()


def test_plain_users_are_refused(bob_client):
    assert bob_client.get(URL).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(anon):
    response = anon.get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_search_text_follows_renames(alice):
    user = UserFactory(organization=alice.organization, first_name="Zoé", last_name="Old")
    user.last_name = "Nouveau"
    user.save(update_fields=["last_name"])
    assert User.objects.search("nouveau").get() == user


def test_column_headers_sort_and_a_second_click_reverses(alice_client, people):
    columns = {c["label"]: c for c in alice_client.get(URL, {"group": people["sales"].pk}).context["columns"]}
    assert columns["Name"]["sorted"] == "ascending"
    assert f"group={people['sales'].pk}" in columns["Created"]["query"]
    assert "sort=-created" in columns["Created"]["query"]
    columns = {c["label"]: c for c in alice_client.get(URL, {"sort": "-created"}).context["columns"]}
    assert columns["Created"]["sorted"] == "descending" and "sort=created" in columns["Created"]["query"]
    assert columns["Email"]["query"] is None


def test_recent_logins_first_puts_people_who_never_logged_in_last(alice_client, alice):
    from django.utils import timezone

    UserFactory(organization=alice.organization, first_name="Never", last_login=None)
    UserFactory(organization=alice.organization, first_name="Recent", last_login=timezone.now())
    UserFactory(
        organization=alice.organization, first_name="Old", last_login=timezone.now() - timezone.timedelta(days=9)
    )
    users = alice_client.get(URL, {"sort": "-last_login", "q": "e"}).context["users"]
    assert [u.first_name for u in users if u.first_name != "Alice"] == ["Recent", "Old", "Never"]


@pytest.mark.parametrize("cached", [True, False])
@pytest.mark.parametrize("size", [25, 200])
def test_a_page_costs_at_most_eight_queries_whatever_the_filters_and_cached_counts(alice_client, people, cached, size):
    """Organisation, session, user, the group and type menus (which also check the chosen group and
    type), the page, its people's groups; and the tab counts when they are not cached."""
    params = {
        "status": "active",
        "group": people["sales"].pk,
        "type": people["employee"].pk,
        "q": "lef",
        "per_page": size,
        "sort": "-last_login",
    }
    if cached:
        alice_client.get(URL, params)
    else:
        from accounts.selectors import forget_remembered_counts

        cache.clear()
        forget_remembered_counts()
    with CaptureQueriesContext(connection) as queries:
        response = alice_client.get(URL, params)
    assert names(response) == ["Élodie"]
    assert len(queries) <= 8, [query["sql"][:80] for query in queries]


def test_a_row_shows_its_values_ready_to_read(alice_client, people):
    marc = people["users"]["Marc"]
    content = alice_client.get(URL, {"q": "dupont"}).content.decode()
    assert f'href="{reverse("accounts:user_detail", args=[marc.pk])}"' in content
    assert f'value="{marc.pk}"' in content
    assert "+33 6 12 34 56 78" in content
    assert '<span class="badge status-inactive">Inactive</span>' in content
    assert '<span class="badge text-bg-light border me-1">Sales</span>' in content
    assert formats.date_format(timezone.localtime(marc.created_at), "SHORT_DATE_FORMAT") in content


def test_both_group_menus_list_the_groups_escaped_and_the_filter_one_marks_the_choice(alice_client, alice):
    group = UserGroupFactory(organization=alice.organization, name="<b>R&D</b>")
    content = alice_client.get(URL, {"group": group.pk}).content.decode()
    assert content.count(f'<option value="{group.pk}" selected>&lt;b&gt;R&amp;D&lt;/b&gt;</option>') == 1
    assert content.count(f'<option value="{group.pk}">&lt;b&gt;R&amp;D&lt;/b&gt;</option>') == 1


def test_the_rows_are_written_whole_with_every_value_escaped():
    """web.people.user_rows.rows_markup writes the table's rows as the row template did, character for
    character: here two people (an administrator known by name, whose name and group need escaping; a
    person known only by a mobile number, with a type), then an empty list."""
    from web.people.user_rows import PersonRow, rows_markup

    labels = {"select": "Select %(name)s", "admin": "admin", "edit": "Edit", "empty": "No <user>."}
    common = {"first_name": "", "last_name": "", "status": "active", "status_label": "Active", "created": "3/12/26"}
    rows = [
        PersonRow(
            pk=7, email="zoe@acme.example", mobile="", is_administrator=True, name='Zoé "Z" <b>&</b>',
            url="/users/7/", edit_url="/users/7/edit/", login_id="zoe@acme.example", mobile_display="",
            type_name="", groups=["R&D", "Lyon"], last_login="—", **common,
        ),
        PersonRow(
            pk=8, email="", mobile="+33612345678", is_administrator=False, name="+33 6 12 34 56 78",
            url="/users/8/", edit_url="/users/8/edit/", login_id="+33 6 12 34 56 78",
            mobile_display="+33 6 12 34 56 78", type_name="Trainee's", groups=[], last_login="2/12/26", **common,
        ),
    ]  # fmt: skip
    zoe = "Zoé &#34;Z&#34; &lt;b&gt;&amp;&lt;/b&gt;"
    assert str(rows_markup(rows, labels)) == (
        "\n      <tr>\n"
        '        <td class="stack-check"><input class="form-check-input row-check" type="checkbox" name="ids"'
        f' value="7" id="select-7" aria-label="Select {zoe}"></td>\n'
        f'        <td class="stack-title text-nowrap"><a href="/users/7/">{zoe}</a>'
        ' <span class="badge text-bg-info">admin</span><div class="d-md-none small fw-normal text-body-secondary'
        ' stack-wide">zoe@acme.example</div></td>\n'
        '        <td class="d-none d-md-table-cell">zoe@acme.example</td>\n'
        '        <td class="d-none d-md-table-cell text-nowrap"></td>\n'
        '        <td class="d-none d-md-table-cell"></td>\n'
        '        <td class="stack-corner"><span class="badge status-active">Active</span></td>\n'
        '        <td><span class="badge text-bg-light border me-1">R&amp;D</span>'
        '<span class="badge text-bg-light border me-1">Lyon</span></td>\n'
        '        <td class="d-none d-md-table-cell text-nowrap">—</td>\n'
        '        <td class="d-none d-md-table-cell text-nowrap">3/12/26</td>\n'
        '        <td class="stack-action text-md-end"><a class="btn btn-sm btn-outline-primary"'
        f' href="/users/7/edit/">Edit<span class="visually-hidden"> {zoe}</span></a></td>\n'
        "      </tr>"
        "\n      <tr>\n"
        '        <td class="stack-check"><input class="form-check-input row-check" type="checkbox" name="ids"'
        ' value="8" id="select-8" aria-label="Select +33 6 12 34 56 78"></td>\n'
        '        <td class="stack-title text-nowrap"><a href="/users/8/">+33 6 12 34 56 78</a>'
        '<div class="d-md-none small fw-normal text-body-secondary stack-wide">Trainee&#39;s</div></td>\n'
        '        <td class="d-none d-md-table-cell"></td>\n'
        '        <td class="d-none d-md-table-cell text-nowrap">+33 6 12 34 56 78</td>\n'
        '        <td class="d-none d-md-table-cell">Trainee&#39;s</td>\n'
        '        <td class="stack-corner"><span class="badge status-active">Active</span></td>\n'
        "        <td></td>\n"
        '        <td class="d-none d-md-table-cell text-nowrap">2/12/26</td>\n'
        '        <td class="d-none d-md-table-cell text-nowrap">3/12/26</td>\n'
        '        <td class="stack-action text-md-end"><a class="btn btn-sm btn-outline-primary"'
        ' href="/users/8/edit/">Edit<span class="visually-hidden"> +33 6 12 34 56 78</span></a></td>\n'
        "      </tr>"
    )
    assert str(rows_markup([], labels)) == (
        '\n      <tr><td colspan="10" class="text-center text-body-secondary py-4">No &lt;user&gt;.</td></tr>'
    )


def test_the_rows_escape_writes_what_jinja2_writes():
    """The rows' own escape (web.people.user_rows.esc) against markupsafe's, which Jinja2 uses: every
    character that needs escaping, in every position, beside plain and non-ASCII text; markup and a
    lazy translation are escaped as markupsafe does too."""
    import random

    from django.utils.translation import gettext_lazy
    from markupsafe import Markup, escape

    from web.people.user_rows import esc

    alphabet = "&<>\"'aZ é—0 ;#"
    texts = ["", "plain", "&amp;", *("".join(random.choices(alphabet, k=n)) for n in range(1, 40) for _ in range(50))]
    for text in texts:
        assert esc(text) == str(escape(text)), text
    assert esc(Markup("<b>kept</b>")) == "<b>kept</b>"
    assert esc(gettext_lazy("Active")) == str(escape(gettext_lazy("Active")))


def test_the_dates_are_the_days_of_the_sites_time_zone(alice_client, alice, settings):
    """The last login and creation dates are the local days (the database turns them into days, in the
    site's time zone): 23:30 UTC on 15 January is the 16th in Paris, and the 15th in New York."""
    import datetime

    late = datetime.datetime(2026, 1, 15, 23, 30, tzinfo=datetime.UTC)
    UserFactory(organization=alice.organization, first_name="Late", last_login=late)
    User.objects.filter(first_name="Late").update(created_at=late)
    for zone, day in (("Europe/Paris", 16), ("America/New_York", 15)):
        settings.TIME_ZONE = zone
        day = formats.date_format(datetime.date(2026, 1, day), "SHORT_DATE_FORMAT")
        (row,) = [row for row in alice_client.get(URL, {"q": "late"}).context["users"] if row.first_name == "Late"]
        assert (row.last_login, row.created) == (day, day), zone
