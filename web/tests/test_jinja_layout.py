"""base.jinja writes what base.html writes: the link pages (Jinja2, web/jinja_env.py) look like every
other page, for a visitor with no account and for a signed-in person, in every language, with or
without messages. The two layouts are rendered around the same content and compared as markup
(entities read, runs of white space made one, CSRF tokens set aside: each rendering masks its own)."""

import html
import re

import pytest
from django.contrib import messages
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.template import engines
from django.urls import resolve, reverse
from django.utils.html import format_html

from experquiz.web import speak_recipients_language

pytestmark = pytest.mark.django_db

PAGE = '{% extends "base.X" %}{% block title %}Title{% endblock %}{% block main_class %}container take{% endblock %}'
PAGE += '{% block content %}<p>Content</p>{% endblock %}{% block scripts %}<script src="/s.js"></script>{% endblock %}'


def markup(text: str) -> str:
    text = re.sub(r'(name="csrfmiddlewaretoken" value=)"[^"]+"', r'\1"…"', text)
    text = html.unescape(text)
    text = re.sub(r">\s+<", "><", text)
    return re.sub(r"\s+", " ", text).strip()


def both(request):
    django = engines["django"].from_string(PAGE.replace("base.X", "base.html")).render({}, request)
    jinja = engines["jinja2"].from_string(PAGE.replace("base.X", "base.jinja")).render({}, request)
    return markup(django), markup(jinja)


@pytest.fixture
def page_request(rf, acme):
    def make(user=None, language="en", said=()):
        request = rf.get("/i/some-token/?next=/x/&a=<b>", HTTP_HOST="acme.localhost")
        request.organization = acme
        request.user = user or AnonymousUser()
        request.session = SessionStore()
        request._messages = FallbackStorage(request)
        for level, text in said:
            messages.add_message(request, level, text)
        speak_recipients_language(request, language)
        return request

    return make


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_visitor_without_an_account_sees_the_same_layout(page_request, language):
    django, jinja = both(page_request(language=language))
    assert django == jinja
    assert f'<html lang="{language}">' in jinja and "Content" in jinja and "csrfmiddlewaretoken" in jinja


def test_a_signed_in_administrator_sees_the_same_menus(page_request, alice):
    django, jinja = both(page_request(alice))
    assert django == jinja
    assert "Audit trail" in jinja and "Log out" in jinja  # the menus are there, not just equal


def test_a_signed_in_user_with_messages_sees_the_same_page(page_request, bob):
    undo = format_html('Done. <form method="post"><button name="undo">{}</button></form>', "Undo <it>")
    said = [(messages.SUCCESS, "Saved <for good>."), (messages.ERROR, "Refused."), (messages.INFO, undo)]
    django, jinja = both(page_request(bob, language="fr", said=said))
    assert django == jinja
    assert "alert-success" in jinja and "alert-danger" in jinja and "Mon espace" in jinja
    # A message given as markup (a bulk action's Undo button) is printed as markup by both.
    assert '<button name="undo">Undo <it></button>' in jinja


CURRENT_PAGES = [
    "home",
    "accounts:user_list",
    "accounts:user_type_list",
    "accounts:contact_list",
    "accounts:me",
    "groups:list",
    "groups:rights",
    "invitations:list",
    "assessments:list",
    "assessments:results",
    "audit:list",
]


@pytest.mark.parametrize("current", CURRENT_PAGES)
def test_the_menus_mark_the_same_current_page(page_request, alice, bob, current):
    """The menus of base.jinja (includes/*.jinja) are those of base.html (includes/*.html), on
    every section's page, for an administrator and for a person without rights."""
    shown = {}
    for person in (alice, bob):
        request = page_request(person)
        request.resolver_match = resolve(reverse(current))
        django, shown[person] = both(request)
        assert django == shown[person], (person, current)
    # The menus mark the section: the administrator's (user types are in the person's menu, not
    # there), and for a person without rights "My space".
    marked = shown[bob] if current == "accounts:me" else shown[alice]
    assert ('class="nav-link active"' in marked) != (current == "accounts:user_type_list")


def test_both_layouts_escape_what_they_print(page_request, acme):
    acme.name = '<script>alert("x")</script>'
    for engine, layout in (("django", "base.html"), ("jinja2", "base.jinja")):
        raw = engines[engine].from_string(PAGE.replace("base.X", layout)).render({}, page_request())
        assert "<script>alert" not in raw and "&lt;script&gt;alert" in raw


USERS_PAGE = '{% extends "base.html" %}{% block title %}X{% endblock %}{% block main_class %}Y{% endblock %}'
USERS_PAGE += "{% block content %}<p>Content</p>{% endblock %}{% block scripts %}Z{% endblock %}"


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_people_list_is_written_on_the_same_layout(alice_client, language):
    """/users/ (Jinja2, on base.jinja) as served: everything around its content is what base.html
    writes for the same request (the menus with "Users" as the current page, the language menu)."""
    alice_client.cookies["django_language"] = language
    response = alice_client.get("/users/?q=a&per_page=50")
    served = markup(response.content.decode())
    head, rest = served.split("<title>", 1)
    title, rest = rest.split("</title>", 1)
    main_open, rest = rest.split('<main id="main" class="', 1)
    main_class, rest = rest.split('"', 1)
    scripts = rest.rsplit('<script src="/static/experquiz/base.js"></script>', 1)[1].split("</body>", 1)[0]
    django = engines["django"].from_string(
        USERS_PAGE.replace("{% block title %}X", "{% block title %}" + title.split(" · ")[0])
        .replace("Y{%", main_class.replace(" flex-grow-1", "") + "{%")
        .replace("Z{%", scripts + "{%")
    )
    expected = markup(django.render({}, response.wsgi_request))
    before, after = expected.split("<p>Content</p>")
    # Each rendering masks its own CSRF token: compare them set aside (markup() does).
    assert served.startswith(before) and served.endswith(after)
    assert '<a class="nav-link active" href="/users/">' in served  # the menus are there, "Users" current
    assert f'<html lang="{language}">' in served and "checkboxes.js" in scripts


def test_a_template_text_is_in_the_language_of_each_render():
    """`{{ _("…") }}` is remembered per language and text (web.jinja_env.template_gettext): renders in
    turn in English, French and English again each get their own language's text."""
    from django.utils import translation

    template = engines["jinja2"].from_string('{{ _("Search") }}|{{ _("A text no catalogue holds") }}')
    seen = []
    for language in ("en", "fr", "en", "fr"):
        with translation.override(language):
            seen.append(template.render({}))
    english, french = "Search|A text no catalogue holds", "Rechercher|A text no catalogue holds"
    assert seen == [english, french, english, french]
