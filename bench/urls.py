"""The site's URLs, and one more for the benchmark: the floor of an admin page (bench/settings.py).

`/bench/floor/` is the least an admin page can cost on this stack: the same middleware, the same
reads of the organisation, the session and the signed-in person, the same right checked as the
people list (`Right.MANAGE_USERS`), and the site's base layout (navigation, menus, the sign-out form)
around an empty content block. What `/users/` costs above it is the list's own work (its filters,
queries and rows). bench/people.py times it in every round, beside the list and the replay of the
list's SQL, and prints its p95 against that replay's: how much of a "≤ 2× its own SQL" budget any
admin page spends before it does anything. The site's URLs are all here, after this one: the list
is resolved through one more pattern than on the site, a negligible cost.
"""

import functools

from django.http import HttpResponse
from django.template import engines
from django.urls import path
from django.views import View

from rights.mixins import RightRequiredMixin
from rights.names import Right
from web.urls import urlpatterns as site_urlpatterns

FLOOR_TEMPLATE = '{% extends "base.jinja" %}{% block title %}Floor{% endblock %}{% block content %}{% endblock %}'


class FloorView(RightRequiredMixin, View):
    required_right = Right.MANAGE_USERS

    def get(self, request):
        return HttpResponse(floor_template().render({}, request))


@functools.cache
def floor_template():
    """Compiled once per process, as the site's own templates are (Jinja2's cache)."""
    return engines["jinja2"].from_string(FLOOR_TEMPLATE)


urlpatterns = [path("bench/floor/", FloorView.as_view(), name="bench_floor"), *site_urlpatterns]
