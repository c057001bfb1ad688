"""The small things seen trying the product as a new administrator would (issue 13's glitches)."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from accounts.models import ImportJob, User
from accounts.tests.factories import ContactFactory, MembershipFactory, UserFactory, UserGroupFactory
from flows.importing import check_rows, read_table
from invitations.models import Invitation

pytestmark = pytest.mark.django_db


def test_the_message_after_editing_a_user_names_them_as_they_now_are(alice_client, bob):
    data = {
        "first_name": "Robert",
        "last_name": "Newname",
        "email": bob.email,
        "mobile": "",
        "employee_number": "",
        "preferred_channel": "email",
        "language": "en",
        "user_type": "",
    }
    response = alice_client.post(reverse("accounts:user_edit", args=[bob.pk]), data, follow=True)
    assert "Robert Newname was saved." in response.content.decode()


def test_the_message_after_editing_a_contact_names_them_as_they_now_are(alice_client, acme):
    contact = ContactFactory(organization=acme, first_name="Old", last_name="Name", email="c@example.org")
    data = {"first_name": "New", "last_name": "Name", "email": "c@example.org", "mobile": "", "language": "en"}
    response = alice_client.post(reverse("accounts:contact_edit", args=[contact.pk]), data, follow=True)
    assert "New Name was saved." in response.content.decode()


def test_an_active_user_never_invited_has_no_empty_invitation_card(alice_client, bob):
    page = alice_client.get(reverse("accounts:user_detail", args=[bob.pk])).content.decode()
    assert 'id="invitation-panel"' not in page


def test_the_dashboard_counts_are_links_and_it_leads_to_the_user_types(alice_client, bob):
    page = alice_client.get(reverse("home")).content.decode()
    users = reverse("accounts:user_list")
    assert f'<a class="dashboard-count" href="{users}?status=active">' in page
    assert f'href="{reverse("accounts:contact_list")}"' in page.split("</h1>", 1)[1]
    assert f'href="{reverse("accounts:user_type_list")}"' in page.split("</h1>", 1)[1]


def test_group_member_names_link_to_their_page_and_long_lists_are_paged(alice_client, acme):
    group = UserGroupFactory(organization=acme, name="Big")
    members = [MembershipFactory(group=group, user=UserFactory(organization=acme)).user for _ in range(55)]
    page = alice_client.get(reverse("groups:detail", args=[group.pk])).content.decode()
    shown = [m for m in members if reverse("accounts:user_detail", args=[m.pk]) + '"' in page]
    assert len(shown) == 50
    assert "page=2" in page


def test_a_scoped_managers_import_says_a_group_is_outside_theirs_not_unknown(acme, maggie, paris):
    header, rows = read_table(b"email,groups\nnew@acme.example,Lyon;Paris;Nowhere\n")
    check = check_rows(organization=acme, actor=maggie, header=header, rows=rows)
    reasons = [reason for _column, reason in check.rows[0].errors]
    assert "group “Paris” is outside your groups" in reasons
    assert "unknown group “Nowhere”" in reasons
    assert not any("Paris" in reason and "unknown" in reason for reason in reasons)


def test_the_import_preview_shows_the_values_and_what_an_update_changes(alice_client, acme, bob):
    header, rows = read_table(
        f"email,first_name,last_name\n{bob.email},Bobby,Plain\nnew@acme.example,Nina,New\n".encode()
    )
    report = check_rows(organization=acme, actor=None, header=header, rows=rows).report()
    update, create = report["rows"]
    assert ["first_name", bob.first_name, "Bobby"] in [list(change) for change in update["changes"]]
    assert dict(create["cells"]) == {"email": "new@acme.example", "first_name": "Nina", "last_name": "New"}


def test_the_import_preview_page_shows_each_rows_values_and_what_an_update_changes(alice_client, bob):
    data = f"email,first_name,last_name\n{bob.email},Bobby,\nnina@acme.example,Nina,Newcomer\n".encode()
    alice_client.post(reverse("accounts:user_import"), {"file": SimpleUploadedFile("people.csv", data)})
    job = ImportJob.objects.get()
    page = alice_client.get(reverse("accounts:user_import_job", args=[job.pk])).content.decode()
    # Shown in plain tables, not folded away in a collapsed section.
    main = page.split("<main", 1)[1].split("</main>", 1)[0]
    assert "<details" not in main and "collapse" not in main
    created = page.split('id="create-rows"', 1)[1].split("</table>", 1)[0]
    assert "nina@acme.example" in created and "Nina" in created and "Newcomer" in created
    updated = re.sub(r"\s+", " ", page.split('id="update-rows"', 1)[1].split("</table>", 1)[0])
    assert f"{bob.first_name} → Bobby" in updated
    assert bob.last_name not in updated.split("</td>", 2)[-1]  # an empty cell keeps the value: no change shown


def test_the_demos_invited_users_have_their_invitations(db):
    call_command("seed_demo", "--users", "40", "--contacts", "0")
    invited = User.objects.filter(status="invited")
    assert invited.exists()
    with_rows = set(Invitation.objects.filter(user__in=invited, kind="account").values_list("user_id", flat=True))
    assert with_rows == set(invited.values_list("pk", flat=True))


@pytest.mark.parametrize(
    "url", ["accounts:user_list", "invitations:list", "groups:list", "audit:list", "accounts:contact_list"]
)
def test_every_filtered_list_offers_to_clear_its_filters(alice_client, url):
    path = reverse(url)
    page = alice_client.get(path, {"q": "zz"}).content.decode()
    assert f'href="{path}">Clear filters</a>' in page
    assert "Clear filters" not in alice_client.get(path).content.decode()


def test_the_rights_editor_hides_the_group_boxes_unless_groups_is_chosen():
    from pathlib import Path

    script = (Path(__file__).resolve().parents[3] / "static" / "groups" / "rights.js").read_text()
    assert 'groups.hidden = !(chosen && chosen.value === "groups")' in script


def test_the_rights_overview_puts_no_separator_before_a_plain_users_first_profile(alice_client, acme, bob):
    from groups.tests.factories import RightsProfileFactory
    from rights.models import ProfileAssignment

    profile = RightsProfileFactory(organization=acme, name="Coach")
    ProfileAssignment.objects.create(organization=acme, profile=profile, user=bob)
    page = alice_client.get(reverse("groups:rights")).content.decode()
    assert "> · Coach" not in page and ">Coach" in page.replace("\n", "").replace("  ", "")


def test_the_organisation_settings_pages_lead_to_each_other_and_the_dashboard_to_both(alice_client):
    general, types = reverse("accounts:organization_settings"), reverse("accounts:user_type_list")
    for url in (general, types):
        page = alice_client.get(url).content.decode()
        tabs = page.split('aria-label="Organisation settings"', 1)[1].split("</nav>", 1)[0]
        assert f'href="{general}"' in tabs and f'href="{types}"' in tabs
        assert tabs.count('aria-current="page"') == 1
    dashboard = alice_client.get(reverse("home")).content.decode().split("</h1>", 1)[1]
    assert f'href="{general}"' in dashboard and f'href="{types}"' in dashboard
