"""Response headers on every page: a Content-Security-Policy that allows no inline script or style,
pages with nothing inline for it to block, and no copy of a logged-in person's pages (or of a link's
page) kept by the browser or a proxy.

The pages come from the URL resolver (as in the access matrix), so a page added later is checked.
"""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from .access import ACCESS, IN_SCOPE, PUBLIC, World
from .test_access_matrix import URLS, client_for, places_of, urls_for

TEMPLATES = Path(settings.BASE_DIR) / "templates"
# E-mails are not web pages: no CSP applies, and mail clients only honour inline styles.
# E-mail bodies: mail clients need their styles inline, and no browser loads them under the policy.
EMAIL_TEMPLATES = (TEMPLATES / "invitations" / "messages", TEMPLATES / "assessments" / "messages")


class InlineFinder(HTMLParser):
    """What a CSP without 'unsafe-inline' blocks: inline scripts, on… handlers, javascript: links,
    style attributes and <style> elements."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = []
        self.in_script = None

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=…>")
            if name == "style":
                self.found.append(f"<{tag} style=…>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}=javascript:…>")
        if tag == "style":
            self.found.append("<style> element")
        if tag == "script":
            attributes = dict(attrs)
            # JSON data blocks are never run; anything else without src is an inline script.
            self.in_script = None if "src" in attributes or attributes.get("type") == "application/json" else ""

    def handle_data(self, data):
        if self.in_script is not None:
            self.in_script += data

    def handle_endtag(self, tag):
        if tag == "script" and self.in_script is not None:
            self.found.append(f"inline <script>: {self.in_script.strip()[:60]!r}")
            self.in_script = None


def inline_code(html: str) -> list[str]:
    finder = InlineFinder()
    finder.feed(html)
    finder.close()
    return finder.found


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


def policy_problems(response) -> list[str]:
    policy = response.get("Content-Security-Policy")
    if not policy:
        return ["no Content-Security-Policy header"]
    parsed = directives(policy)
    problems = []
    for directive in ("script-src", "style-src"):
        sources = parsed.get(directive) or parsed.get("default-src") or []
        if not sources:
            problems.append(f"CSP sets no {directive} (nor default-src)")
        if "'unsafe-inline'" in sources or "'unsafe-eval'" in sources:
            problems.append(f"CSP allows unsafe code in {directive}: {sources}")
    for directive, expected in (("object-src", "'none'"), ("base-uri", "'none'"), ("frame-ancestors", "'none'")):
        if parsed.get(directive) != [expected]:
            problems.append(f"CSP {directive} is {parsed.get(directive)}, not {expected}")
    return problems


def not_stored(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


def body(response) -> str:
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    return raw.decode("utf-8", errors="replace")


@pytest.mark.django_db
@pytest.mark.parametrize("name, route, kwargs", [u[:3] for u in URLS if u[0] in ACCESS], ids=lambda v: v)
def test_every_page_has_the_policy_no_inline_code_and_is_not_stored(name, route, kwargs):
    access = ACCESS[name]
    world = World()
    place = None if places_of(access, kwargs) == (None,) else IN_SCOPE
    # Public pages as their visitors see them (signed out); the others as an administrator.
    actor = "anonymous" if access.gate == PUBLIC else "admin_a"
    failures = []
    for url in urls_for(world, name, access, kwargs, place):
        client = client_for(world, actor)
        responses = [("GET", client.get(url))]
        if access.post_only:
            responses.append(("POST", client.post(url, access.data(world) if access.data else {})))
        for method, response in responses:
            cell = f"{actor} {method} {url} ({response.status_code})"
            failures += [f"{cell}: {problem}" for problem in policy_problems(response)]
            if "html" in response.get("Content-Type", ""):
                failures += [f"{cell}: {found}" for found in inline_code(body(response))]
            # Token pages (links in messages) are never stored either: the link is the key.
            if (actor != "anonymous" or name.startswith("invitations:")) and not not_stored(response):
                failures.append(f"{cell}: Cache-Control is {response.get('Cache-Control')!r}, without no-store")
    assert not failures, "\n".join(failures)


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports_and_downloads_are_not_stored(alice_client, fmt):
    for url in (f"/users/export/{fmt}/", f"/users/import/sample.{fmt}"):
        response = alice_client.get(url)
        assert response.status_code == 200
        assert not_stored(response), (url, response.get("Cache-Control"))
        assert not policy_problems(response)


@pytest.mark.django_db
def test_a_response_that_sets_its_own_cache_policy_keeps_it(rf, alice):
    from django.http import HttpResponse

    from experquiz.headers import NoStoreMiddleware

    request = rf.get("/")
    request.user = alice
    cached = HttpResponse("public")
    cached["Cache-Control"] = "max-age=60"
    assert NoStoreMiddleware(lambda request: cached)(request)["Cache-Control"] == "max-age=60"
    assert "no-store" in NoStoreMiddleware(lambda request: HttpResponse("mine"))(request)["Cache-Control"]


def test_the_policy_written_once_is_django_csps_and_follows_views_settings_and_nonces(rf, settings):
    from csp.decorators import csp_update
    from csp.middleware import CSPMiddleware
    from django.http import HttpResponse

    from experquiz.headers import SitePolicyCSPMiddleware

    def answer(view):
        both = []
        for middleware in (CSPMiddleware, SitePolicyCSPMiddleware):
            request = rf.get("/")
            both.append(middleware(view)(request)["Content-Security-Policy"])
        assert both[0] == both[1]
        return both[1]

    def page(request):
        return HttpResponse("page")

    site = answer(page)
    assert "script-src 'self'" in site
    assert "img.example" in answer(csp_update({"img-src": "img.example"})(page))
    assert "img.example" not in answer(page)

    def with_nonce(request):
        str(request.csp_nonce)  # a template asked for a nonce
        return HttpResponse("page")

    assert answer(with_nonce) == site  # this policy has no nonce source: django-csp drops it too
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'self'", "cdn.example"]}}
    assert answer(page) == "default-src 'self' cdn.example"


@pytest.mark.django_db
def test_the_bare_domain_and_the_error_pages_carry_the_policy(acme):
    for url in ("/", "/admin/login/"):
        response = Client(HTTP_HOST="localhost").get(url)
        assert not policy_problems(response), url
        assert not inline_code(body(response)), url
    response = Client(HTTP_HOST="acme.localhost").get("/no-such-page/")
    assert response.status_code == 404
    assert not policy_problems(response) and not inline_code(body(response))


def test_no_template_has_inline_code():
    """Pages the walk above does not reach (error pages, confirmations) are checked in the source."""
    problems = []
    for path in [*TEMPLATES.rglob("*.html"), *TEMPLATES.rglob("*.jinja")]:
        if any(folder in path.parents for folder in EMAIL_TEMPLATES):
            continue
        text = path.read_text(encoding="utf-8")
        # Template tags inside attributes confuse no HTML parser but may hide a handler: check both.
        found = inline_code(text) + [f"on… handler: {m}" for m in re.findall(r"\son[a-z]+\s*=", text)]
        problems += [f"{path.relative_to(TEMPLATES)}: {item}" for item in found]
    assert not problems, "\n".join(problems)
