"""The view helpers every area shares (experquiz.web), and the rule that the pages use them rather
than writing their own: query strings that keep a list's filters, pages, service errors."""

import ast

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.test import RequestFactory

from experquiz.errors import DomainError, InvalidFields
from experquiz.tests.codebase import product_modules
from experquiz.web import form_error_from_service, page_of, per_page_choice, query_string


def test_query_string_keeps_the_filters_drops_what_is_asked_and_applies_changes():
    params = QueryDict("q=ann&status=active&page=3&sort=name&group=1&group=2")
    assert QueryDict(query_string(params, "page")) == QueryDict("q=ann&status=active&sort=name&group=1&group=2")
    changed = QueryDict(query_string(params, "page", status="", sort="-name"))
    assert changed == QueryDict("q=ann&sort=-name&group=1&group=2")
    assert params["page"] == "3"  # the request's own query is never changed


@pytest.mark.parametrize(("asked", "shown"), [("2", 2), ("999", 4), ("x", 1), ("", 1), ("-1", 4), ("²", 1)])
def test_page_of_answers_any_page_number_with_a_page(asked, shown):
    request = RequestFactory().get("/", {"page": asked})
    assert page_of(request, list(range(100)), 25).number == shown
    assert page_of(request, list(range(100)), 25, count=100).number == shown


def test_a_known_count_spares_the_count():
    class Uncountable(list):
        def count(self):
            raise AssertionError("counted")

        def __len__(self):
            raise AssertionError("counted")

    page = page_of(RequestFactory().get("/"), Uncountable(range(10)), 5, count=10)
    assert page.paginator.num_pages == 2


@pytest.mark.parametrize(("asked", "size"), [("100", 100), ("7", 25), ("x", 25), (None, 25)])
def test_per_page_is_one_of_the_offered_sizes(asked, size):
    request = RequestFactory().get("/", {} if asked is None else {"per_page": asked})
    assert per_page_choice(request, [25, 50, 100]) == size


class NameForm(forms.Form):
    name = forms.CharField()


@pytest.mark.parametrize(
    ("error", "by_field"),
    [
        (InvalidFields({"name": ["Taken."], "elsewhere": ["Other."]}), {"name": ["Taken."], "__all__": ["Other."]}),
        (ValidationError({"name": "Bad."}), {"name": ["Bad."]}),
        (ValidationError("Whole."), {"__all__": ["Whole."]}),
        (DomainError("Refused."), {"__all__": ["Refused."]}),
    ],
)
def test_a_service_refusal_lands_next_to_its_field(error, by_field):
    form = NameForm({"name": "x"})
    assert form.is_valid()
    form_error_from_service(form, error)
    assert {field: list(errors) for field, errors in form.errors.items()} == by_field


# What a page must not write for itself: the helpers above do it.
OWN_HELPERS = {
    "Paginator": "page_of (experquiz.web)",
    "pop('page')": "query_string(params, 'page') (experquiz.web)",
    "error.message_dict": "form_error_from_service (experquiz.web)",
}


def _own_helpers(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "Paginator":
            yield node.lineno, "Paginator"
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "pop"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value == "page"
        ):
            yield node.lineno, "pop('page')"
        if isinstance(node, ast.Attribute) and node.attr in ("message_dict", "error_dict"):
            yield node.lineno, "error.message_dict"


def test_the_pages_use_the_shared_helpers():
    found = [
        f"{module}:{line} writes its own {what}; use {OWN_HELPERS[what]}"
        for module, tree in product_modules()
        if module.startswith("web.")
        for line, what in _own_helpers(tree)
    ]
    assert not found, "\n".join(found)
