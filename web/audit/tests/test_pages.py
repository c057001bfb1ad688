"""The audit trail page, its CSV export, and the activity on each person's page."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.services import user_change_status, user_type_create
from audit.models import Action, AuditEvent
from audit.services import audit_event, audit_record_many
from experquiz.spreadsheets import FORMULA_TRIGGERS
from flows.people import user_create_with_groups
from groups.services import group_create

pytestmark = pytest.mark.django_db
URL = "/audit/"


def ids_on(response) -> list[int]:
    return [event.pk for event in response.context["page"].events]


@pytest.fixture
def history(acme, alice, bob, ines, lyon, maggie, globex, mallory):
    """A few real actions in Acme (by Alice, then Maggie creates Olga in Lyon) and one in Globex."""
    with transaction.atomic():
        user_change_status(user=bob, to="inactive", actor=alice, reason="Left")
    user_type_create(organization=acme, name="Intern", actor=alice)
    outsider = user_create_with_groups(
        organization=acme, actor=maggie, first_name="Olga", last_name="Other", email="olga@acme.example", groups=[lyon]
    )
    user_type_create(organization=globex, name="Globex secret type", actor=mallory)
    return {"outsider": outsider}


def test_the_trail_lists_the_organisations_events_newest_first(alice_client, history):
    response = alice_client.get(URL)
    assert response.status_code == 200
    actions = [event.action for event in response.context["page"].events]
    assert actions == [
        Action.GROUP_MEMBER_ADDED,
        Action.USER_CREATED,
        Action.USER_TYPE_CREATED,
        Action.USER_STATUS_CHANGED,
    ]
    body = response.content.decode()
    assert "Globex secret type" not in body
    assert "Olga Other" in body and "Left" in body


def test_only_administrators_read_the_trail(history, maggie_client, bob, make_client, mallory_client):
    assert maggie_client.get(URL).status_code == 403
    assert maggie_client.get(reverse("audit:export")).status_code == 403
    # Mallory reads Globex's trail on Globex's host, never Acme's.
    assert [e.action for e in mallory_client.get(URL).context["page"].events] == [Action.USER_TYPE_CREATED]


def test_filter_by_actor(alice_client, history, maggie):
    response = alice_client.get(URL, {"actor": maggie.pk})
    assert [e.actor_id for e in response.context["page"].events] == [maggie.pk, maggie.pk]


def test_the_actor_filter_offers_only_this_organisations_rights_holders(alice_client, history, alice, maggie, bob):
    field = alice_client.get(URL).context["filter"].form.fields["actor"]
    assert set(field.queryset) == {alice, maggie}


def test_another_tenants_person_as_filter_shows_nothing_and_says_so(alice_client, history, mallory):
    for params in ({"actor": mallory.pk}, {"person": mallory.pk}):
        response = alice_client.get(URL, params, follow=True)
        assert response.context["page"].events == []
        assert "not understood" in response.content.decode()


def test_filter_by_action(alice_client, history):
    response = alice_client.get(URL, {"action": Action.USER_TYPE_CREATED})
    assert [e.target_label for e in response.context["page"].events] == ["Intern"]


def test_filter_by_person_exactly_or_by_typing_their_name(alice_client, history, bob):
    exact = alice_client.get(URL, {"person": bob.pk})
    assert [e.action for e in exact.context["page"].events] == [Action.USER_STATUS_CHANGED]
    assert "About Bob Plain" in exact.content.decode()
    typed = alice_client.get(URL, {"q": "olga"})
    assert [e.target_user for e in typed.context["page"].events] == [history["outsider"]] * 2


def test_filter_by_date_range(alice_client, history, acme):
    old = AuditEvent.objects.filter(organization=acme, action=Action.USER_STATUS_CHANGED)
    old.update(created_at=timezone.now() - timedelta(days=40))
    day = (timezone.localdate() - timedelta(days=40)).isoformat()
    assert [e.action for e in alice_client.get(URL, {"since": day, "until": day}).context["page"].events] == [
        Action.USER_STATUS_CHANGED
    ]
    recent = alice_client.get(URL, {"since": timezone.localdate().isoformat()}).context["page"].events
    assert Action.USER_STATUS_CHANGED not in [e.action for e in recent] and len(recent) == 3


@pytest.mark.parametrize(
    "params",
    [
        {"since": "9999-12-31", "until": "0001-01-01"},
        {"since": "not a date"},
        {"before": "-1", "after": "x"},
        {"before": "99999999999999999999999"},
        {"actor": "99999999999999999999", "person": "abc"},
        {"per_page": "1e9", "action": "user.teleported"},
        {"q": "\x00' OR 1=1 --"},
    ],
)
def test_junk_in_the_filters_is_never_a_server_error(alice_client, history, params):
    assert alice_client.get(URL, params).status_code == 200
    assert alice_client.get(reverse("audit:export"), params).status_code in (200, 302)


@pytest.fixture
def many(acme, alice, bob):
    """250 events about Bob."""
    with transaction.atomic():
        audit_record_many(
            audit_event(organization=acme, actor=alice, action=Action.USER_UPDATED, target=bob, after={"n": n})
            for n in range(250)
        )
    return list(AuditEvent.objects.filter(organization=acme).order_by("-pk").values_list("pk", flat=True))


def test_paging_walks_every_event_once_both_ways(alice_client, many):
    seen, pages, params = [], [], {"per_page": 100}
    while True:
        page = alice_client.get(URL, params).context["page"]
        pages.append(page)
        seen += [event.pk for event in page.events]
        if page.older is None:
            break
        params = {"per_page": 100, "before": page.older}
    assert seen == many and [len(page.events) for page in pages] == [100, 100, 50]
    back = alice_client.get(URL, {"per_page": 100, "after": pages[2].newer}).context["page"]
    assert [e.pk for e in back.events] == [e.pk for e in pages[1].events]
    first = alice_client.get(URL, {"per_page": 100, "after": back.newer}).context["page"]
    assert [e.pk for e in first.events] == many[:100] and first.newer is None


def test_the_number_of_queries_is_the_same_whatever_the_page_and_its_size(
    alice_client, many, bob, django_assert_num_queries
):
    alice_client.get(URL)  # warm the session and the sites' caches
    with CaptureQueriesContext(connection) as first:
        alice_client.get(URL, {"per_page": 50})
    for params in (
        {"per_page": 200},
        {"per_page": 50, "before": many[100]},
        {"per_page": 200, "before": many[20]},
        {"per_page": 100, "after": many[200]},
        {"per_page": 200, "action": Action.USER_UPDATED},
        {"per_page": 200, "q": "bob plain"},
    ):
        with django_assert_num_queries(len(first)):
            alice_client.get(URL, params)
    # An exact person costs one more query (to check they belong to the organisation), at any size.
    with CaptureQueriesContext(connection) as person:
        alice_client.get(URL, {"per_page": 50, "person": bob.pk})
    with django_assert_num_queries(len(person)):
        alice_client.get(URL, {"per_page": 200, "person": bob.pk, "before": many[10]})


def read_csv(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_the_csv_export_is_safe_to_open_in_a_spreadsheet(alice_client, acme, alice, bob):
    evil = '=HYPERLINK("http://evil.example","click")'
    group_create(organization=acme, actor=alice, name=evil, description="@SUM(1+1)")
    user_change_status(user=bob, to="inactive", actor=alice, reason="-2+3")
    response = alice_client.get(reverse("audit:export"))
    assert response["Content-Type"].startswith("text/csv")
    rows = read_csv(response)
    assert len(rows) == 3  # the header and the two events (not the export itself)
    cells = [cell for row in rows for cell in row]
    assert not [cell for cell in cells if cell.startswith(FORMULA_TRIGGERS)], cells
    assert "'" + evil in cells
    assert any("-2+3" in cell for cell in cells)


def test_the_csv_export_follows_the_filters_and_is_itself_recorded(alice_client, history, alice):
    response = alice_client.get(reverse("audit:export"), {"action": Action.USER_TYPE_CREATED})
    rows = read_csv(response)
    assert [row[6] for row in rows[1:]] == ["Intern"]
    recorded = AuditEvent.objects.get(action=Action.EXPORT_DOWNLOADED)
    assert recorded.actor == alice
    assert recorded.after == {"list": "audit", "format": "csv", "filters": "action: user_type.created", "rows": 1}


def test_the_users_export_records_who_downloaded_what(alice_client, alice, bob):
    response = alice_client.get(reverse("accounts:user_export", args=["xlsx"]), {"status": "active", "q": "bob"})
    assert response.status_code == 200
    recorded = AuditEvent.objects.get(action=Action.EXPORT_DOWNLOADED)
    assert recorded.actor == alice
    assert recorded.after == {"list": "users", "format": "xlsx", "filters": "status: active; q: bob", "rows": 1}


def test_a_persons_page_shows_their_activity_to_administrators(alice_client, history, bob):
    response = alice_client.get(reverse("accounts:user_detail", args=[bob.pk]))
    assert [e.action for e in response.context["activity"]] == [Action.USER_STATUS_CHANGED]
    body = response.content.decode()
    assert 'id="activity"' in body and f"{URL}?person={bob.pk}" in body


def test_a_scoped_manager_sees_no_activity_on_a_persons_page(maggie_client, history):
    response = maggie_client.get(reverse("accounts:user_detail", args=[history["outsider"].pk]))
    assert response.status_code == 200
    assert response.context["activity"] is None and 'id="activity"' not in response.content.decode()
