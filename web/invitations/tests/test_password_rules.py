"""The password rules' help text of the link pages' forms: written once per language and process."""

from django.utils import translation
from django.utils.functional import Promise
from django.utils.safestring import SafeString

from web.invitations.forms import _password_rules_html, password_rules_html


def test_the_rules_are_written_once_per_language_as_safe_html():
    _password_rules_html.cache_clear()
    with translation.override("en"):
        english = password_rules_html()
        # Written text, not Django's lazy proxy (which writes the rules again at every print).
        assert not isinstance(english, Promise)
        assert isinstance(english, SafeString)
        assert english.startswith("<ul>")
        assert password_rules_html() is english
    with translation.override("fr"):
        french = password_rules_html()
    assert french != english
    assert "<li>" in french


def test_a_change_of_the_rules_writes_them_again(settings):
    with translation.override("en"):
        before = password_rules_html()
        settings.AUTH_PASSWORD_VALIDATORS = [
            {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 17}}
        ]
        after = password_rules_html()
    assert after != before
    assert "17" in after
