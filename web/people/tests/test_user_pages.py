import pytest
from django.urls import reverse

from accounts.models import StatusChange, User
from accounts.tests.factories import UserFactory, UserGroupFactory, UserTypeFactory

pytestmark = pytest.mark.django_db


def form_data(**overrides):
    data = {
        "first_name": "Ann",
        "last_name": "Bee",
        "email": "Ann.Bee@Example.com",
        "mobile": "",
        "employee_number": "",
        "preferred_channel": "email",
        "language": "fr",
        "user_type": "",
    }
    return data | overrides


def test_an_administrator_creates_a_user_with_type_groups_and_employee_number(alice_client, alice):
    type_ = UserTypeFactory(organization=alice.organization, name="Trainee")
    group = UserGroupFactory(organization=alice.organization, name="Lyon")
    response = alice_client.post(
        reverse("accounts:user_create"),
        form_data(mobile="06 12 34 56 78", employee_number="E-7", user_type=type_.pk, groups=[group.pk]),
    )
    user = User.objects.get(email="ann.bee@example.com")
    assert response.status_code == 302 and response["Location"] == reverse("accounts:user_detail", args=[user.pk])
    assert (user.mobile, user.employee_number, user.user_type, user.status) == ("+33612345678", "E-7", type_, "created")
    assert list(user.user_groups.all()) == [group]
    assert user.created_by == alice
    assert StatusChange.objects.filter(user=user, to_status="created").exists()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"email": "", "mobile": ""}, "email", "one of them is the login ID"),
        ({"email": "", "mobile": "06 12 34 56 78"}, "preferred_channel", "no email address"),
        ({"preferred_channel": "sms"}, "preferred_channel", "no mobile number"),
        ({"mobile": "12"}, "mobile", "is not a valid mobile number"),
        ({"email": "not-an-email"}, "email", "valid email"),
    ],
)
def test_create_errors_name_the_problem(alice_client, overrides, field, message):
    response = alice_client.post(reverse("accounts:user_create"), form_data(**overrides))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert any(message in error for error in errors[field or "__all__"])
    assert not User.objects.filter(first_name="Ann").exists()


def test_an_email_already_taken_links_to_its_owner(alice_client, bob):
    response = alice_client.post(reverse("accounts:user_create"), form_data(email="BOB@acme.example"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "This email address already belongs to" in content
    assert f'href="{reverse("accounts:user_detail", args=[bob.pk])}"' in content


def test_an_employee_number_is_unique_in_the_organisation(alice_client, alice, mallory):
    UserFactory(organization=alice.organization, employee_number="E-1")
    UserFactory(organization=mallory.organization, employee_number="E-2")
    response = alice_client.post(reverse("accounts:user_create"), form_data(employee_number="E-1"))
    assert "This employee number already belongs to" in response.content.decode()
    response = alice_client.post(reverse("accounts:user_create"), form_data(employee_number="E-2"))
    assert response.status_code == 302


def test_edit_changes_identity_and_groups_but_not_status(alice_client, alice, bob):
    keep, drop, add = (UserGroupFactory(organization=alice.organization, name=n) for n in ("Keep", "Drop", "Add"))
    for group in (keep, drop):
        group.memberships.create(organization=alice.organization, user=bob)
    url = reverse("accounts:user_edit", args=[bob.pk])
    assert alice_client.get(url).context["form"].initial["email"] == "bob@acme.example"
    response = alice_client.post(
        url, form_data(first_name="Robert", email="bob@acme.example", groups=[keep.pk, add.pk])
    )
    assert response.status_code == 302
    bob.refresh_from_db()
    assert (bob.first_name, bob.language, bob.status) == ("Robert", "fr", "active")
    assert sorted(g.name for g in bob.user_groups.all()) == ["Add", "Keep"]
    assert User.objects.search("robert").get() == bob


def test_edit_refuses_another_users_mobile(alice_client, alice, bob):
    other = UserFactory(organization=alice.organization, mobile="+33612345678")
    response = alice_client.post(
        reverse("accounts:user_edit", args=[bob.pk]), form_data(email="bob@acme.example", mobile="0612345678")
    )
    assert "This mobile number already belongs to" in response.content.decode()
    assert str(other) in response.content.decode()


def test_detail_shows_identity_history_groups_and_only_the_allowed_actions(alice_client, alice):
    from accounts.services import user_change_status, user_create

    # With a password: nobody becomes active without a way in (accounts/tests/test_way_in.py).
    user = user_create(
        organization=alice.organization, actor=alice, email="x@acme.example", first_name="Xavier", password="pw 42"
    )
    user_change_status(user=user, to="active", actor=alice, reason="starts Monday")
    UserGroupFactory(organization=alice.organization, name="Paris").memberships.create(
        organization=alice.organization, user=user
    )
    response = alice_client.get(reverse("accounts:user_detail", args=[user.pk]))
    content = response.content.decode()
    assert "Xavier" in content and "Paris" in content and "starts Monday" in content
    assert [target for target, _label, _confirm in response.context["actions"]] == ["inactive", "deleted"]
    assert reverse("accounts:user_status", args=[user.pk, "inactive"]) in content
    assert reverse("accounts:user_status", args=[user.pk, "active"]) not in content


def test_the_status_view_asks_then_changes_and_records_the_reason(alice_client, alice, bob):
    url = reverse("accounts:user_status", args=[bob.pk, "inactive"])
    assert "Deactivate" in alice_client.get(url).content.decode()
    bob.refresh_from_db()
    assert bob.status == "active"
    response = alice_client.post(url, {"reason": "left the company"}, follow=True)
    bob.refresh_from_db()
    assert bob.status == "inactive"
    assert bob.status_changes.first().reason == "left the company"
    assert "is now inactive" in response.content.decode()


def test_an_illegal_transition_is_a_message_not_a_500(alice_client, bob):
    response = alice_client.post(reverse("accounts:user_status", args=[bob.pk, "active"]), follow=True)
    assert response.status_code == 200
    assert "cannot become" in response.content.decode()


def test_the_last_administrator_cannot_deactivate_herself(alice_client, alice):
    response = alice_client.post(reverse("accounts:user_status", args=[alice.pk, "inactive"]), follow=True)
    assert "last active administrator" in response.content.decode()
    alice.refresh_from_db()
    assert alice.status == "active"


def test_an_unknown_status_is_a_404(alice_client, bob):
    assert alice_client.post(reverse("accounts:user_status", args=[bob.pk, "sleeping"])).status_code == 404


@pytest.mark.parametrize("name", ["accounts:user_detail", "accounts:user_edit"])
def test_another_tenants_user_is_a_404(alice_client, mallory, name):
    assert alice_client.get(reverse(name, args=[mallory.pk])).status_code == 404


def test_another_tenants_user_cannot_change_status(alice_client, mallory):
    response = alice_client.post(reverse("accounts:user_status", args=[mallory.pk, "deleted"]))
    assert response.status_code == 404
    mallory.refresh_from_db()
    assert mallory.status == "active"


def test_plain_users_cannot_open_the_admin_pages(bob_client, bob):
    for url in (reverse("accounts:user_detail", args=[bob.pk]), reverse("accounts:user_create")):
        assert bob_client.get(url).status_code == 403


def test_user_types_settings_page(alice_client, alice):
    url = reverse("accounts:user_type_list")
    assert alice_client.post(url, {"name": "Intern"}).status_code == 302
    response = alice_client.post(url, {"name": "INTERN"})
    assert "is already used" in response.content.decode()
    intern = alice.organization.user_types.get(name="Intern")
    alice_client.post(reverse("accounts:user_type_edit", args=[intern.pk]), {"name": "Interns"})
    intern.refresh_from_db()
    assert intern.name == "Interns"
    UserFactory(organization=alice.organization, user_type=intern)
    response = alice_client.post(reverse("accounts:user_type_delete", args=[intern.pk]), follow=True)
    assert "1 user has this type" in response.content.decode()
    intern.users.all().delete()
    alice_client.post(reverse("accounts:user_type_delete", args=[intern.pk]))
    assert not alice.organization.user_types.filter(pk=intern.pk).exists()


def test_user_types_of_another_tenant_are_404(alice_client, mallory):
    foreign = UserTypeFactory(organization=mallory.organization)
    assert alice_client.get(reverse("accounts:user_type_edit", args=[foreign.pk])).status_code == 404
    assert alice_client.post(reverse("accounts:user_type_delete", args=[foreign.pk])).status_code == 404
