"""The environment of the Jinja2 engine (the second in TEMPLATES): Django's translations, static
files, URLs, dates and messages, for the pages written in Jinja2 and the parts that Django pages
include (`web.jinja_tags`).

Jinja2 compiles a template to Python: the link pages (`/i/…`, `/a/…`, their problem pages), opened by
everyone a message reaches, render in a tenth of the time Django's engine takes for the same markup.
They are `*.jinja` files next to the Django templates, on `base.jinja`, which writes what
`base.html` writes (a test compares them) and has Django render the signed-in person's menus.

Texts are marked `{{ _("…") }}` only, never with Jinja's `{% trans %}` blocks: `makemessages` reads the
`.jinja` files as Django templates (Makefile: `--extension html,txt,py,jinja`) and extracts exactly
that form. Values go in with `|format(name=value)`, whose result is escaped as a whole; plurals are
chosen in Python (`ngettext`), by the view.
"""

import functools

from django.conf import settings
from django.contrib.messages import get_messages
from django.template import defaultfilters
from django.template.loader import render_to_string
from django.templatetags.static import static as django_static
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext
from jinja2 import Environment, pass_context
from markupsafe import Markup


@functools.cache
def static(path):
    """Django's `static`, once per file and process: the URL of a file is fixed for the process's life
    (the manifest of hashed names is read when the storage starts)."""
    return django_static(path)


def url(name, *args):
    return reverse(name, args=args)


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
def messages(context):
    return get_messages(context["request"])


def environment(**options):
    options.pop("autoescape", None)  # always on (Django's default for this engine too)
    env = Environment(autoescape=True, extensions=["jinja2.ext.i18n"], **options)
    env.install_gettext_callables(gettext, ngettext, newstyle=False)
    env.globals.update(
        static=static,
        url=url,
        language=translation.get_language,
        languages=languages,
        django_include=django_include,
        messages=messages,
    )
    env.filters.update(date=date, linebreaks=linebreaks)
    return env
