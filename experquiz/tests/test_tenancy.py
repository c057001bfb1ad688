import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from experquiz.tenancy import organization_url, tenant_slug_from_host

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("host", "slug"),
    [
        ("acme.localhost", "acme"),
        ("acme.localhost:8000", "acme"),
        ("ACME.LOCALHOST", "acme"),
        ("localhost", ""),
        ("localhost:8000", ""),
        ("a.b.localhost", None),
        ("evil.com", None),
        ("acmelocalhost", None),
        (".localhost", None),
    ],
)
def test_the_tenant_slug_comes_from_the_host(host, slug):
    assert tenant_slug_from_host(host) == slug


def test_organization_urls_work_outside_a_request(acme, settings):
    settings.BASE_DOMAIN = "example.com"
    settings.HTTPS = True
    assert organization_url(acme, "/i/abc/") == "https://acme.example.com/i/abc/"


def test_a_tenant_host_serves_its_login_page(anon, acme):
    response = anon.get("/login/")
    assert response.status_code == 200
    assert "Acme" in response.content.decode()


def test_an_unknown_organisation_is_a_404(db):
    assert Client(HTTP_HOST="nosuchorg.localhost").get("/login/").status_code == 404


@pytest.mark.parametrize("host", ["evil.example.com", "localhost:notaport", "bad host", "a..localhost"])
def test_garbage_hosts_get_400_or_404_never_500(db, host):
    assert Client(HTTP_HOST=host).get("/").status_code in (400, 404)


def test_the_bare_domain_shows_a_neutral_page(db):
    response = Client(HTTP_HOST="localhost").get("/")
    assert response.status_code == 200
    assert "your-organisation" in response.content.decode()


def test_a_session_taken_from_one_tenant_is_not_logged_in_on_another(bob, globex, make_client):
    acme_client = make_client(bob.organization, bob)
    assert acme_client.get(reverse("accounts:me")).status_code == 200
    stolen = acme_client.cookies["sessionid"].value
    globex_client = make_client(globex)
    globex_client.cookies["sessionid"] = stolen
    response = globex_client.get(reverse("accounts:me"))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_session_cookies_are_host_only(anon, bob, password):
    response = anon.post("/login/", {"username": bob.email, "password": password})
    assert response.cookies["sessionid"]["domain"] == ""


def test_django_admin_is_not_served_on_tenant_hosts(alice_client):
    assert alice_client.get("/admin/").status_code == 404


def test_platform_staff_use_the_admin_on_the_bare_domain(db):
    staff = User.objects.create_superuser("root@platform.example", "platform-pass-2026")
    client = Client(HTTP_HOST="localhost")
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "root@platform.example", "password": "platform-pass-2026"}
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
    assert client.session["_auth_user_id"] == str(staff.pk)


def test_platform_staff_cannot_log_in_on_a_tenant_host(anon, db):
    User.objects.create_superuser("root@platform.example", "platform-pass-2026")
    response = anon.post("/login/", {"username": "root@platform.example", "password": "platform-pass-2026"})
    assert response.status_code == 200
    assert "_auth_user_id" not in anon.session


def test_a_tenant_administrator_cannot_log_into_the_platform_admin(alice, password):
    client = Client(HTTP_HOST="localhost")
    response = client.post("/admin/login/?next=/admin/", {"username": alice.email, "password": password})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_a_tenant_session_is_dropped_on_the_bare_domain(alice_client):
    client = Client(HTTP_HOST="localhost")
    client.cookies["sessionid"] = alice_client.cookies["sessionid"].value
    assert client.get("/admin/").status_code == 302
