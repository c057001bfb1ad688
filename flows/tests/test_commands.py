import pytest
from django.core.management import CommandError, call_command

from accounts.models import Contact, Organization, User

pytestmark = pytest.mark.django_db


def test_createtenant_creates_the_organisation_and_its_administrator(capsys):
    call_command(
        "createtenant", "initech", "--name", "Initech", "--admin-email", "boss@initech.example",
        "--admin-password", "long-enough-pass-2026", "--region", "be",
    )  # fmt: skip
    organization = Organization.objects.get(slug="initech")
    assert organization.phone_region == "BE"
    assert organization.users.get().is_administrator
    assert "http://initech.localhost/" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("slug", "password", "message"),
    [
        ("acme", "long-enough-pass-2026", "already taken"),
        ("Not_Valid!", "long-enough-pass-2026", "lower-case letters"),
        ("www", "long-enough-pass-2026", "reserved"),
        ("initech", "123", "too short"),
    ],
)
def test_createtenant_explains_what_is_wrong_and_writes_nothing(acme, slug, password, message):
    with pytest.raises(CommandError, match=message):
        call_command(
            "createtenant", slug, "--name", "X", "--admin-email", "boss@initech.example", "--admin-password", password
        )
    assert Organization.objects.count() == 1


def test_createtenant_exits_non_zero_from_the_command_line():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "manage.py", "createtenant", "www", "--name", "X", "--admin-email", "a@b.example",
         "--admin-password", "long-enough-pass-2026"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0 and "reserved" in result.stderr


def test_seed_demo_makes_users_of_every_status_and_type_and_is_idempotent():
    call_command("seed_demo", "--users", "60", "--contacts", "5")
    demo = Organization.objects.get(slug="demo")
    users = User.objects.for_org(demo)
    assert set(users.values_list("status", flat=True)) == set(User.Status.values)
    assert users.exclude(user_type=None).values("user_type").distinct().count() == demo.user_types.count()
    assert Contact.objects.for_org(demo).count() == 5
    assert demo.user_groups.exists()
    call_command("seed_demo", "--users", "60")
    assert User.objects.for_org(demo).count() == 62  # the administrator, the manager and 60 users


def test_seed_demo_adds_a_regional_manager_who_logs_in_to_their_users(capsys, make_client):
    from rights.names import Right
    from rights.selectors import actor_has_right, users_in_scope

    call_command("seed_demo", "--users", "30", "--contacts", "0")
    out = capsys.readouterr().out
    assert "manager@demo.example.com / demo-manager-pass" in out and "admin@demo.example.com" in out
    demo = Organization.objects.get(slug="demo")
    manager = User.objects.for_org(demo).get(email="manager@demo.example.com")
    assert manager.status == "active" and not manager.is_administrator
    assert manager.check_password("demo-manager-pass")
    assert [p.name for p in manager.rights_profiles.all()] == ["Regional manager"]
    regions = set(demo.user_groups.filter(name__in=["Lyon", "Marseille"]).values_list("pk", flat=True))
    for right in (Right.MANAGE_USERS, Right.INVITE):
        assert actor_has_right(manager, right)
        in_scope = users_in_scope(manager, right)
        assert in_scope.exists()
        assert not in_scope.exclude(memberships__group__in=regions).exists()
    assert not actor_has_right(manager, Right.VIEW_RESULTS)
    client = make_client(demo)
    assert client.post("/login/", {"username": manager.email, "password": "demo-manager-pass"}).status_code == 302
    assert client.get("/").url == "/users/"
    call_command("seed_demo")
    assert User.objects.for_org(demo).filter(email="manager@demo.example.com").count() == 1
