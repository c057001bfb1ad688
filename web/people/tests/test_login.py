import pytest
from django.test import override_settings
from django.urls import reverse

from accounts.models import User
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

GENERIC = "These details do not match an active account."


def login(client, username, password):
    return client.post(reverse("accounts:login"), {"username": username, "password": password})


@pytest.mark.parametrize("typed", ["bob@acme.example", "BOB@Acme.Example", "  bob@acme.example  "])
def test_login_by_email_in_any_letter_case(anon, bob, password, typed):
    response = login(anon, typed, password)
    assert response.status_code == 302
    assert anon.session["_auth_user_id"] == str(bob.pk)


@pytest.mark.parametrize(
    "typed", ["06 12 34 56 78", "0612345678", "+33612345678", "+33 6 12 34 56 78", "0033612345678"]
)
def test_login_by_mobile_typed_as_people_type_it(anon, acme, password, typed):
    user = UserFactory(organization=acme, email="", mobile="+33612345678", preferred_channel="sms")
    response = login(anon, typed, password)
    assert response.status_code == 302
    assert anon.session["_auth_user_id"] == str(user.pk)


def test_a_national_number_is_read_with_the_organisations_region(make_client, password):
    from accounts.tests.factories import OrganizationFactory

    belgian = OrganizationFactory(slug="brussels", phone_region="BE")
    user = UserFactory(organization=belgian, email="", mobile="+32470123456", preferred_channel="sms")
    client = make_client(belgian)
    assert login(client, "0470 12 34 56", password).status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.parametrize("status", ["created", "invited", "inactive", "deleted"])
def test_a_user_who_is_not_active_is_refused_with_the_generic_message(anon, acme, password, status):
    UserFactory(organization=acme, email="ann@acme.example", status=status)
    response = login(anon, "ann@acme.example", password)
    assert response.status_code == 200
    assert GENERIC in response.content.decode()
    assert "_auth_user_id" not in anon.session


def test_unknown_login_and_wrong_password_get_the_same_message(anon, bob):
    unknown = login(anon, "nobody@acme.example", "whatever-password").content.decode()
    wrong = login(anon, "bob@acme.example", "wrong-password").content.decode()
    assert GENERIC in unknown and GENERIC in wrong


def test_a_user_cannot_log_in_on_another_organisations_host(make_client, globex, bob, password):
    response = login(make_client(globex), "bob@acme.example", password)
    assert GENERIC in response.content.decode()


@override_settings(LOGIN_THROTTLE_PER_ID=3, LOGIN_THROTTLE_PER_IP=100)
def test_failed_attempts_are_limited_per_login_id_even_typed_differently(anon, acme, password):
    user = UserFactory(organization=acme, email="", mobile="+33612345678", preferred_channel="sms")
    for typed in ["06 12 34 56 78", "+33612345678", "0033612345678"]:
        assert login(anon, typed, "wrong-password").status_code == 200
    # Now even the right password is refused, before any hashing, with a clear message.
    response = login(anon, "0612345678", password)
    assert response.status_code == 429
    assert "Too many failed attempts" in response.content.decode()
    assert "_auth_user_id" not in anon.session
    # Another person's login ID from the same address is not blocked by this counter.
    UserFactory(organization=acme, email="carol@acme.example")
    assert login(anon, "carol@acme.example", password).status_code == 302
    assert user.pk  # the blocked user still exists, untouched


@override_settings(LOGIN_THROTTLE_PER_ID=100, LOGIN_THROTTLE_PER_IP=3)
def test_failed_attempts_are_limited_per_client_address(anon, bob, password):
    for n in range(3):
        login(anon, f"nobody{n}@acme.example", "wrong-password")
    assert login(anon, "bob@acme.example", password).status_code == 429


@override_settings(LOGIN_THROTTLE_PER_ID=3)
def test_a_successful_login_resets_the_login_id_counter(anon, bob, password):
    login(anon, "bob@acme.example", "wrong")
    login(anon, "bob@acme.example", "wrong")
    assert login(anon, "bob@acme.example", password).status_code == 302
    anon.post(reverse("accounts:logout"))
    login(anon, "bob@acme.example", "wrong")
    login(anon, "bob@acme.example", "wrong")
    assert login(anon, "bob@acme.example", password).status_code == 302


def test_login_sets_the_users_language(anon, acme, password):
    UserFactory(organization=acme, email="fr@acme.example", language="fr")
    response = login(anon, "fr@acme.example", password)
    assert response.cookies["django_language"].value == "fr"


def test_logout_is_a_post(bob_client):
    assert bob_client.get(reverse("accounts:logout")).status_code == 405
    assert bob_client.post(reverse("accounts:logout")).status_code == 302
    assert "_auth_user_id" not in bob_client.session


def test_pages_require_login(anon):
    response = anon.get(reverse("accounts:me"))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_deactivated_users_session_ends(bob_client, bob, alice):
    from accounts.services import user_change_status

    assert bob_client.get(reverse("accounts:me")).status_code == 200
    user_change_status(user=bob, to="inactive", actor=alice)
    assert bob_client.get(reverse("accounts:me")).status_code == 302


def test_password_change(bob_client, bob, password):
    response = bob_client.post(
        reverse("accounts:password_change"),
        {"old_password": password, "new_password1": "a-brand-new-secret", "new_password2": "a-brand-new-secret"},
    )
    assert response.status_code == 302
    bob.refresh_from_db()
    assert bob.check_password("a-brand-new-secret")
    assert bob_client.get(reverse("accounts:me")).status_code == 200  # still logged in


def test_a_temporary_password_must_be_changed_before_anything_else(bob_client, bob):
    User.objects.filter(pk=bob.pk).update(must_change_password=True)
    response = bob_client.get(reverse("accounts:me"))
    assert response.status_code == 302 and response["Location"] == reverse("accounts:password_change")
    assert bob_client.get(reverse("accounts:password_change")).status_code == 200


def test_the_login_page_is_usable_on_a_phone(anon):
    html = anon.get(reverse("accounts:login")).content.decode()
    assert 'name="viewport"' in html
    assert 'for="id_username"' in html and 'for="id_password"' in html
    assert 'autocomplete="username"' in html


def test_the_login_page_is_translated_into_french(anon):
    html = anon.get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Se connecter" in html
    assert 'lang="fr"' in html


# An attacker who knows someone's login ID must not be able to lock them out (DoS) from one address:
# failures count per (login ID, address); only a larger, slower ceiling per login ID counts every
# address, and it still stops a distributed attack.
ATTACKER = {"REMOTE_ADDR": "203.0.113.7"}
OWNER = {"REMOTE_ADDR": "198.51.100.20"}


@override_settings(LOGIN_THROTTLE_PER_ID=5, LOGIN_THROTTLE_PER_IP=30, LOGIN_THROTTLE_ID_CEILING=20)
def test_failures_from_one_address_do_not_lock_the_owner_out_from_another(anon, make_client, acme, bob, password):
    for _ in range(10):
        anon.post(reverse("accounts:login"), {"username": bob.email, "password": "wrong"}, **ATTACKER)
    # The attacker's address is blocked for this login ID, even with the right password…
    assert (
        anon.post(reverse("accounts:login"), {"username": bob.email, "password": password}, **ATTACKER).status_code
        == 429
    )
    # …but the owner, elsewhere, logs in.
    owner = make_client(acme)
    response = owner.post(reverse("accounts:login"), {"username": bob.email, "password": password}, **OWNER)
    assert response.status_code == 302
    assert owner.session["_auth_user_id"] == str(bob.pk)


@override_settings(
    LOGIN_THROTTLE_PER_ID=5,
    LOGIN_THROTTLE_PER_IP=30,
    LOGIN_THROTTLE_ID_CEILING=12,
    LOGIN_THROTTLE_ID_CEILING_WINDOW=3600,
)
def test_the_ceiling_per_login_id_stops_a_distributed_attack(anon, make_client, acme, bob, password, password_checks):
    for n in range(30):  # 30 addresses, 3 guesses each: under every per-address limit
        for _ in range(3):
            anon.post(
                reverse("accounts:login"), {"username": bob.email, "password": f"guess-{n}"}, REMOTE_ADDR=f"10.0.0.{n}"
            )
    assert len(password_checks) == 12  # the ceiling: the other guesses cost no password hash
    # Now the owner waits too, and is told for how long.
    owner = make_client(acme)
    response = owner.post(reverse("accounts:login"), {"username": bob.email, "password": password}, **OWNER)
    assert response.status_code == 429
    assert "Please wait 60 minutes" in response.content.decode()
    # Other people are not affected.
    carol = UserFactory(organization=acme, email="carol@acme.example")
    assert login(owner, carol.email, password).status_code == 302


@override_settings(LOGIN_THROTTLE_PER_ID=3, LOGIN_THROTTLE_ID_CEILING=4)
def test_the_owners_successful_login_does_not_count_towards_the_ceiling(anon, make_client, acme, bob, password):
    for _ in range(3):
        anon.post(reverse("accounts:login"), {"username": bob.email, "password": "wrong"}, **ATTACKER)
    owner = make_client(acme)
    for _ in range(3):  # the owner logs in and out several times
        assert (
            owner.post(reverse("accounts:login"), {"username": bob.email, "password": password}, **OWNER).status_code
            == 302
        )
        owner.post(reverse("accounts:logout"))
    assert (
        owner.post(reverse("accounts:login"), {"username": bob.email, "password": password}, **OWNER).status_code == 302
    )


@pytest.mark.parametrize("platform", [False, True], ids=["tenant login", "platform admin login"])
def test_a_wrong_password_costs_one_hash_whether_or_not_the_login_id_exists(
    make_client, acme, bob, monkeypatch, platform
):
    """Timing must not tell who has an account: an unknown login ID is hashed like a known one."""
    from django.contrib.auth.hashers import MD5PasswordHasher

    hashes = []
    real = MD5PasswordHasher.encode
    monkeypatch.setattr(MD5PasswordHasher, "encode", lambda self, *args: hashes.append(1) or real(self, *args))
    if platform:
        User.objects.create_superuser("root@platform.example", "platform-pass-2026")
        client, url, known = make_client(None), "/admin/login/", "root@platform.example"
    else:
        client, url, known = make_client(acme), reverse("accounts:login"), bob.email
    costs = []
    for login_id in [known, "nobody@acme.example"]:
        hashes.clear()
        response = client.post(url, {"username": login_id, "password": "wrong-password"})
        assert response.status_code == 200
        costs.append(len(hashes))
    assert costs == [1, 1]
