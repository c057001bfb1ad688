"""The environment of the Jinja2 engine (the second in TEMPLATES): Django's translations, static
files, URLs, dates and messages, for the pages written in Jinja2.

Jinja2 compiles a template to Python: the link pages (`/i/…`, `/a/…`, their problem pages), opened by
everyone a message reaches, render in a tenth of the time Django's engine takes for the same markup;
the people list (`/users/`), whose rows grow with the data, in a third.
They are `*.jinja` files next to the Django templates, on `base.jinja`, which writes what
`base.html` writes, the signed-in person's menus included (a test compares them).

Texts are marked `{{ _("…") }}` only, never with Jinja's `{% trans %}` blocks: `makemessages` reads the
`.jinja` files as Django templates (Makefile: `--extension html,txt,py,jinja`) and extracts exactly
that form. Values go in with `|format(name=value)`, whose result is escaped as a whole; plurals are
chosen in Python (`ngettext`), by the view.
"""

import functools

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template import defaultfilters
from django.template.loader import render_to_string
from django.templatetags.static import static as django_static
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext
from jinja2 import Environment, pass_context
from markupsafe import Markup

from rights.context_processors import held_rights


@functools.cache
def static(path):
    """Django's `static`, once per file and process: the URL of a file is fixed for the process's life
    (the manifest of hashed names is read when the storage starts)."""
    return django_static(path)


def url(name, *args):
    """Django's `{% url %}`. Without arguments (the menus' addresses, the same on every page) reversed
    once per name, URLconf and script prefix: the URL patterns are fixed for the process's life."""
    if args:
        return reverse(name, args=args)
    return _url_without_arguments(name, get_urlconf(), get_script_prefix())


@functools.lru_cache(maxsize=256)
def _url_without_arguments(name, urlconf, script_prefix):
    """A page's address without arguments (the layout's links and menus), reversed once per URLconf and
    script prefix: every page wrote its menus' addresses anew (a `reverse()` each)."""
    return reverse(name, urlconf=urlconf)


@receiver(setting_changed)
def _urls_changed(*, setting, **kwargs):
    if setting in ("ROOT_URLCONF", "PLATFORM_URLCONF", "FORCE_SCRIPT_NAME"):
        _url_without_arguments.cache_clear()


def date(value, format_name):
    """Django's `date` filter on the value in the current time zone, as Django's templates show it."""
    return defaultfilters.date(timezone.template_localtime(value), format_name)


def linebreaks(value):
    return defaultfilters.linebreaks_filter(value, autoescape=True)  # Django escapes, then marks it safe


@functools.cache
def languages():
    """The language menu's entries: (code, the language's name in itself); the same in every language."""
    return [(code, capfirst(translation.get_language_info(code)["name_local"])) for code, _name in settings.LANGUAGES]


@pass_context
def django_include(context, name):
    """A Django template rendered for this request (with Django's context processors): the parts of
    `base.html` a Jinja2 page shares rather than copies."""
    return Markup(render_to_string(name, request=context["request"]))  # noqa: S704  (Django escaped it)


@pass_context
def user_rights(context):
    """What `user_rights` is in Django's templates (rights.context_processors): the rights the
    signed-in person holds, for the menus; computed once per request."""
    request = context["request"]
    held = getattr(request, "_held_rights", None)
    if held is None:
        held = request._held_rights = held_rights(request.user)
    return held


@functools.lru_cache(maxsize=4096)
def _translated(language: str, message: str) -> str:
    with translation.override(language):
        return gettext(message)


def template_gettext(message: str) -> str:
    """`{{ _("…") }}`: Django's gettext, remembered per language and text. A page says ~100 of them;
    each went through Django's translation lookups again (the active language read from a
    thread-local several times, the catalogues tried in turn). A process's catalogues do not change
    once loaded (a new one comes with a new process), and the cache is bounded."""
    return _translated(translation.get_language(), message)


@pass_context
def messages(context):
    return get_messages(context["request"])


def environment(**options):
    options.pop("autoescape", None)  # always on (Django's default for this engine too)
    env = Environment(autoescape=True, extensions=["jinja2.ext.i18n"], **options)
    env.install_gettext_callables(template_gettext, ngettext, newstyle=False)
    env.globals.update(
        static=static,
        url=url,
        language=translation.get_language,
        languages=languages,
        django_include=django_include,
        user_rights=user_rights,
        messages=messages,
    )
    env.filters.update(date=date, linebreaks=linebreaks)
    return env
